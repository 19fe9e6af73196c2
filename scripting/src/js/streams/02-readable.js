// Streams, part 02: ReadableStream, its readers and its default controller.
// (The parts in this folder are one script, concatenated in order: see instance.rs.)
  // =====================================================================
  // Readable streams
  // =====================================================================
  let rs, rsMaybe, newRS, isRS, rsRaw, rsRawIfAny;
  class ReadableStream {
    #s;
    constructor(underlyingSource = undefined, strategy = undefined) {
      if (underlyingSource === INTERNAL) { this.#s = strategy; strategy.obj = this; return; }
      if (underlyingSource !== undefined && !isObject(underlyingSource)) throw new TypeError("the underlying source must be an object");
      if (underlyingSource === undefined) underlyingSource = null;
      const st = strategyDict(strategy);
      const src = underlyingSource === null ? {} : underlyingSource;
      const dict = {
        autoAllocateChunkSize: src.autoAllocateChunkSize,
        cancel: callbackMember(src, "cancel", "underlyingSource"),
        pull: callbackMember(src, "pull", "underlyingSource"),
        start: callbackMember(src, "start", "underlyingSource"),
        type: src.type,
      };
      if (dict.autoAllocateChunkSize !== undefined) dict.autoAllocateChunkSize = enforceRangeULL(dict.autoAllocateChunkSize, "autoAllocateChunkSize");
      if (dict.type !== undefined) {
        dict.type = String(dict.type);
        if (dict.type !== "bytes") throw new TypeError(`'${dict.type}' is not a valid ReadableStream type`);
      }
      const s = initializeReadableStream();
      this.#s = s;
      s.obj = this;
      if (dict.type === "bytes") {
        if (st.size !== undefined) throw new RangeError("a byte stream's strategy cannot have a size");
        const hwm = extractHighWaterMark(st, 0);
        setUpReadableByteStreamControllerFromUnderlyingSource(s, underlyingSource, dict, hwm);
      } else {
        const size = extractSizeAlgorithm(st);
        const hwm = extractHighWaterMark(st, 1);
        setUpReadableStreamDefaultControllerFromUnderlyingSource(s, underlyingSource, dict, hwm, size);
      }
    }
    // (Streams the host makes over its bodies have no `#s`: their record comes from
    // hostRecord(), below.)
    static {
      rsMaybe = (o) => {
        let s;
        try { s = o.#s; } catch { s = hostRecord(o); if (s === undefined) return undefined; }
        if (s.lazy !== undefined) materialize(s);
        return s;
      };
      isRS = (o) => typeof o === "object" && o !== null && (#s in o || nativeHost.isHostStream(o));
      rs = (o) => {
        let s;
        try { s = o.#s; } catch { s = hostRecord(o); if (s === undefined) throw new TypeError("not a ReadableStream"); }
        if (s.lazy !== undefined) materialize(s);
        return s;
      };
      rsRaw = (o) => { try { return o.#s; } catch { return hostRecord(o); } };
      // A stream's record without materialising it, or undefined for anything else.
      rsRawIfAny = (o) => (typeof o === "object" && o !== null ? (#s in o ? o.#s : hostRecord(o)) : undefined);
    }
    static from(asyncIterable) { return readableStreamFromIterable(asyncIterable).obj; }
    get locked() { return isReadableStreamLocked(rs(this)); }
    cancel(reason = undefined) {
      const s = rsMaybe(this);
      if (s === undefined) return rejectedWith(new TypeError("not a ReadableStream"));
      if (isReadableStreamLocked(s)) return rejectedWith(new TypeError("cannot cancel a locked stream"));
      return readableStreamCancel(s, reason);
    }
    getReader(options = undefined) {
      const s = rs(this);
      const o = dictionary(options, "getReader's options");
      let mode = o.mode;
      if (mode === undefined) return acquireReadableStreamDefaultReader(s).obj;
      mode = String(mode);
      if (mode !== "byob") throw new TypeError(`'${mode}' is not a valid reader mode`);
      return acquireReadableStreamBYOBReader(s).obj;
    }
    pipeThrough(transform, options = undefined) {
      const s = rs(this);
      if (!isObject(transform)) throw new TypeError("pipeThrough expects a { readable, writable } pair");
      const readable = transform.readable;
      const rsRec = rsMaybe(readable);
      if (rsRec === undefined) throw new TypeError("pipeThrough: transform.readable must be a ReadableStream");
      const writable = transform.writable;
      const wsRec = wsMaybe(writable);
      if (wsRec === undefined) throw new TypeError("pipeThrough: transform.writable must be a WritableStream");
      const o = pipeOptions(options);
      if (isReadableStreamLocked(s)) throw new TypeError("pipeThrough: the stream is locked");
      if (isWritableStreamLocked(wsRec)) throw new TypeError("pipeThrough: the writable side is locked");
      const promise = readableStreamPipeTo(s, wsRec, o.preventClose, o.preventAbort, o.preventCancel, o.signal);
      setHandled(promise);
      return readable;
    }
    pipeTo(destination, options = undefined) {
      const s = rsMaybe(this);
      if (s === undefined) return rejectedWith(new TypeError("not a ReadableStream"));
      const d = wsMaybe(destination);
      if (d === undefined) return rejectedWith(new TypeError("pipeTo: the destination must be a WritableStream"));
      let o;
      try { o = pipeOptions(options); } catch (e) { return rejectedWith(e); }
      if (isReadableStreamLocked(s)) return rejectedWith(new TypeError("pipeTo: the stream is locked"));
      if (isWritableStreamLocked(d)) return rejectedWith(new TypeError("pipeTo: the destination is locked"));
      return readableStreamPipeTo(s, d, o.preventClose, o.preventAbort, o.preventCancel, o.signal);
    }
    tee() { return readableStreamTee(rs(this), false).map((b) => b.obj); }
    values(options = undefined) {
      const s = rs(this);
      const o = dictionary(options, "values' options");
      const preventCancel = toBoolean(o.preventCancel);
      const reader = acquireReadableStreamDefaultReader(s);
      return newAsyncIterator({ reader, preventCancel, ongoing: undefined, finished: false });
    }
  }
  Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, {
    value: ReadableStream.prototype.values, writable: true, configurable: true,
  });
  const INTERNAL = Object.freeze({});
  newRS = (s) => new ReadableStream(INTERNAL, s);

  function pipeOptions(options) {
    const o = dictionary(options, "pipe options");
    const preventAbort = toBoolean(o.preventAbort);
    const preventCancel = toBoolean(o.preventCancel);
    const preventClose = toBoolean(o.preventClose);
    const signal = o.signal;
    if (signal !== undefined && !isSignal(signal)) throw new TypeError("pipe options: signal must be an AbortSignal");
    return { preventAbort, preventCancel, preventClose, signal };
  }

  // (`lazy` and `tag`: see materialize() and the host streams in 07-extras.js;
  // undefined for every other stream.)
  function initializeReadableStream(lazy, tag) {
    return { state: "readable", reader: undefined, storedError: undefined, disturbed: false, controller: undefined, obj: undefined, lazy, tag };
  }
  // Streams over bodies the host holds are objects of this class made by the host
  // (host_streams.rs: `r.body` of a fetched response), without a record until one is
  // first used as a stream; handed on untouched as a body they never get one. Their
  // records are kept here; `hostSetUp` is their controllers' set-up (07-extras.js).
  const hostRecords = new WeakMap();
  let hostSetUp;
  // The record of `o` if it is such a stream (made now if it has none), else undefined.
  function hostRecord(o) {
    if (typeof o !== "object" || o === null) return undefined;
    let s = hostRecords.get(o);
    if (s !== undefined) return s;
    const tag = nativeHost.recordHostStream(o);
    if (tag === undefined) return undefined;
    if (tag === null) {
      // Handed on before it had a record: locked for good, never read here.
      s = initializeReadableStream(hostSetUp, undefined);
      s.reader = HANDED_ON;
    } else {
      s = initializeReadableStream(hostSetUp, tag);
    }
    s.obj = o;
    hostRecords.set(o, s);
    return s;
  }
  // A stream the runtime makes for every fetched body (js/streams-loader.js) sets up its
  // controller when first used: most such bodies are handed on untouched
  // (`new Response(r.body, r)`), and a controller with its promises costs more than the
  // rest of that line. `lazy` is the deferred set-up; rs() runs it on first access.
  function materialize(s) {
    const setUp = s.lazy;
    s.lazy = undefined;
    setUp(s);
  }
  // What a stream handed on untouched holds as its reader: it is locked for good, and
  // no controller exists that could ever close or error it.
  const HANDED_ON = Object.freeze({ kind: "handed-on" });
  function createReadableStream(startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark = 1, sizeAlgorithm = () => 1) {
    const s = initializeReadableStream();
    newRS(s);
    const c = newDefaultControllerRecord();
    setUpReadableStreamDefaultController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm);
    return s;
  }
  function createReadableByteStream(startAlgorithm, pullAlgorithm, cancelAlgorithm) {
    const s = initializeReadableStream();
    newRS(s);
    const c = newByteControllerRecord();
    setUpReadableByteStreamController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, 0, undefined);
    return s;
  }
  function isReadableStreamLocked(s) { return s.reader !== undefined; }

  function readableStreamCancel(s, reason) {
    s.disturbed = true;
    if (s.state === "closed") return resolvedWith(undefined);
    if (s.state === "errored") return rejectedWith(s.storedError);
    readableStreamClose(s);
    const reader = s.reader;
    if (reader !== undefined && reader.kind === "byob") {
      const requests = reader.readIntoRequests;
      reader.readIntoRequests = new Queue();
      for (const r of requests.toArray()) r.close(undefined);
    }
    const sourceCancelPromise = s.controller.cancelSteps(reason);
    return transformPromise(sourceCancelPromise, noop);
  }
  function readableStreamClose(s) {
    s.state = "closed";
    const reader = s.reader;
    if (reader === undefined) return;
    resolvePromise(reader.closed, undefined);
    if (reader.kind === "default") {
      const requests = reader.readRequests;
      reader.readRequests = new Queue();
      for (const r of requests.toArray()) r.close();
    }
  }
  function readableStreamError(s, e) {
    s.state = "errored";
    s.storedError = e;
    const reader = s.reader;
    if (reader === undefined) return;
    rejectPromise(reader.closed, e);
    setHandled(reader.closed.promise);
    if (reader.kind === "default") readableStreamDefaultReaderErrorReadRequests(reader, e);
    else readableStreamBYOBReaderErrorReadIntoRequests(reader, e);
  }
  function readableStreamAddReadRequest(s, r) { s.reader.readRequests.push(r); }
  function readableStreamAddReadIntoRequest(s, r) { s.reader.readIntoRequests.push(r); }
  function readableStreamFulfillReadRequest(s, chunk, done) {
    const r = s.reader.readRequests.shift();
    if (done) r.close(); else r.chunk(chunk);
  }
  function readableStreamFulfillReadIntoRequest(s, chunk, done) {
    const r = s.reader.readIntoRequests.shift();
    if (done) r.close(chunk); else r.chunk(chunk);
  }
  function readableStreamGetNumReadRequests(s) { return s.reader.readRequests.length; }
  function readableStreamGetNumReadIntoRequests(s) { return s.reader.readIntoRequests.length; }
  function readableStreamHasDefaultReader(s) { return s.reader !== undefined && s.reader.kind === "default"; }
  function readableStreamHasBYOBReader(s) { return s.reader !== undefined && s.reader.kind === "byob"; }

  // ---- readers ----
  let rdr, rdrMaybe, byobMaybe;
  class ReadableStreamDefaultReader {
    #s;
    constructor(stream) {
      if (stream === INTERNAL) { this.#s = arguments[1]; this.#s.obj = this; return; }
      const s = rs(stream);
      const r = newReaderRecord("default");
      this.#s = r;
      r.obj = this;
      setUpReadableStreamDefaultReader(r, s);
    }
    static {
      rdrMaybe = (o) => { try { return o.#s; } catch { return undefined; } };
      rdr = (o) => { try { return o.#s; } catch { throw new TypeError("not a reader"); } };
    }
    get closed() {
      const r = rdrMaybe(this);
      if (r === undefined || r.kind !== "default") return rejectedWith(new TypeError("not a ReadableStreamDefaultReader"));
      return r.closed.promise;
    }
    cancel(reason = undefined) {
      const r = rdrMaybe(this);
      if (r === undefined || r.kind !== "default") return rejectedWith(new TypeError("not a ReadableStreamDefaultReader"));
      if (r.stream === undefined) return rejectedWith(new TypeError("the reader has been released"));
      return readableStreamCancel(r.stream, reason);
    }
    read() {
      const r = rdrMaybe(this);
      if (r === undefined || r.kind !== "default") return rejectedWith(new TypeError("not a ReadableStreamDefaultReader"));
      if (r.stream === undefined) return rejectedWith(new TypeError("the reader has been released"));
      const p = newPromise();
      readableStreamDefaultReaderRead(r, {
        chunk: (value) => p.resolve({ value, done: false }),
        close: () => p.resolve({ value: undefined, done: true }),
        error: (e) => p.reject(e),
      });
      return p.promise;
    }
    releaseLock() {
      const r = rdr(this);
      if (r.kind !== "default") throw new TypeError("not a ReadableStreamDefaultReader");
      if (r.stream === undefined) return;
      readableStreamDefaultReaderRelease(r);
    }
  }
  class ReadableStreamBYOBReader {
    #s;
    constructor(stream) {
      if (stream === INTERNAL) { this.#s = arguments[1]; this.#s.obj = this; return; }
      const s = rs(stream);
      const r = newReaderRecord("byob");
      this.#s = r;
      r.obj = this;
      setUpReadableStreamBYOBReader(r, s);
    }
    static {
      byobMaybe = (o) => { try { return o.#s; } catch { return undefined; } };
    }
    get closed() {
      const r = byobMaybe(this);
      if (r === undefined) return rejectedWith(new TypeError("not a ReadableStreamBYOBReader"));
      return r.closed.promise;
    }
    cancel(reason = undefined) {
      const r = byobMaybe(this);
      if (r === undefined) return rejectedWith(new TypeError("not a ReadableStreamBYOBReader"));
      if (r.stream === undefined) return rejectedWith(new TypeError("the reader has been released"));
      return readableStreamCancel(r.stream, reason);
    }
    read(view, options = undefined) {
      const r = byobMaybe(this);
      if (r === undefined) return rejectedWith(new TypeError("not a ReadableStreamBYOBReader"));
      if (!isArrayBufferView(view)) return rejectedWith(new TypeError("read() expects an ArrayBufferView"));
      let min;
      try {
        const o = dictionary(options, "read options");
        min = o.min === undefined ? 1 : enforceRangeULL(o.min, "min");
      } catch (e) {
        return rejectedWith(e);
      }
      if (view.byteLength === 0) return rejectedWith(new TypeError("read() needs a view with a non-zero byteLength"));
      const buffer = bufferOf(view);
      if (abByteLength.call(buffer) === 0) return rejectedWith(new TypeError("read() needs a view on a non-empty buffer"));
      if (isDetached(buffer)) return rejectedWith(new TypeError("read() was given a view on a detached buffer"));
      if (min === 0) return rejectedWith(new TypeError("options.min must be greater than 0"));
      if (isViewTyped(view)) {
        if (min > view.length) return rejectedWith(new RangeError("options.min must be at most the view's length"));
      } else if (min > view.byteLength) {
        return rejectedWith(new RangeError("options.min must be at most the view's byteLength"));
      }
      if (r.stream === undefined) return rejectedWith(new TypeError("the reader has been released"));
      const p = newPromise();
      readableStreamBYOBReaderRead(r, view, min, {
        chunk: (value) => p.resolve({ value, done: false }),
        close: (value) => p.resolve({ value, done: true }),
        error: (e) => p.reject(e),
      });
      return p.promise;
    }
    releaseLock() {
      const r = byobMaybe(this);
      if (r === undefined) throw new TypeError("not a ReadableStreamBYOBReader");
      if (r.stream === undefined) return;
      readableStreamBYOBReaderRelease(r);
    }
  }
  function newReaderRecord(kind) {
    return {
      kind, stream: undefined, closed: undefined, obj: undefined,
      readRequests: kind === "default" ? new Queue() : undefined,
      readIntoRequests: kind === "byob" ? new Queue() : undefined,
    };
  }
  function acquireReadableStreamDefaultReader(s) {
    const r = newReaderRecord("default");
    setUpReadableStreamDefaultReader(r, s);
    new ReadableStreamDefaultReader(INTERNAL, r);
    return r;
  }
  function acquireReadableStreamBYOBReader(s) {
    const r = newReaderRecord("byob");
    setUpReadableStreamBYOBReader(r, s);
    new ReadableStreamBYOBReader(INTERNAL, r);
    return r;
  }
  function readableStreamReaderGenericInitialize(r, s) {
    r.stream = s;
    s.reader = r;
    if (s.state === "readable") r.closed = newPromise();
    else if (s.state === "closed") r.closed = resolvedRecord(undefined);
    else { r.closed = rejectedRecord(s.storedError); setHandled(r.closed.promise); }
  }
  function readableStreamReaderGenericRelease(r) {
    const s = r.stream;
    const e = new TypeError("the reader was released");
    if (s.state === "readable") rejectPromise(r.closed, e);
    else r.closed = rejectedRecord(e);
    setHandled(r.closed.promise);
    s.controller.releaseSteps();
    s.reader = undefined;
    r.stream = undefined;
  }
  function setUpReadableStreamDefaultReader(r, s) {
    if (isReadableStreamLocked(s)) throw new TypeError("the stream is locked to another reader");
    readableStreamReaderGenericInitialize(r, s);
    r.readRequests = new Queue();
  }
  function setUpReadableStreamBYOBReader(r, s) {
    if (isReadableStreamLocked(s)) throw new TypeError("the stream is locked to another reader");
    if (s.controller.kind !== "byte") throw new TypeError("a BYOB reader needs a byte stream (type: 'bytes')");
    readableStreamReaderGenericInitialize(r, s);
    r.readIntoRequests = new Queue();
  }
  function readableStreamDefaultReaderRead(r, request) {
    const s = r.stream;
    s.disturbed = true;
    if (s.state === "closed") request.close();
    else if (s.state === "errored") request.error(s.storedError);
    else s.controller.pullSteps(request);
  }
  function readableStreamDefaultReaderRelease(r) {
    readableStreamReaderGenericRelease(r);
    readableStreamDefaultReaderErrorReadRequests(r, new TypeError("the reader was released"));
  }
  function readableStreamDefaultReaderErrorReadRequests(r, e) {
    const requests = r.readRequests;
    r.readRequests = new Queue();
    for (const q of requests.toArray()) q.error(e);
  }
  function readableStreamBYOBReaderRead(r, view, min, request) {
    const s = r.stream;
    s.disturbed = true;
    if (s.state === "errored") request.error(s.storedError);
    else readableByteStreamControllerPullInto(s.controller, view, min, request);
  }
  function readableStreamBYOBReaderRelease(r) {
    readableStreamReaderGenericRelease(r);
    readableStreamBYOBReaderErrorReadIntoRequests(r, new TypeError("the reader was released"));
  }
  function readableStreamBYOBReaderErrorReadIntoRequests(r, e) {
    const requests = r.readIntoRequests;
    r.readIntoRequests = new Queue();
    for (const q of requests.toArray()) q.error(e);
  }

  // ---- default controller ----
  let rsdc;
  class ReadableStreamDefaultController {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { rsdc = (o) => { try { return o.#s; } catch { throw new TypeError("not a ReadableStreamDefaultController"); } }; }
    get desiredSize() { return readableStreamDefaultControllerGetDesiredSize(rsdc(this)); }
    close() {
      const c = rsdc(this);
      if (!readableStreamDefaultControllerCanCloseOrEnqueue(c)) throw new TypeError("the stream is closed or closing");
      readableStreamDefaultControllerClose(c);
    }
    enqueue(chunk = undefined) {
      const c = rsdc(this);
      if (!readableStreamDefaultControllerCanCloseOrEnqueue(c)) throw new TypeError("the stream is closed or closing");
      readableStreamDefaultControllerEnqueue(c, chunk);
    }
    error(e = undefined) { readableStreamDefaultControllerError(rsdc(this), e); }
  }
  function newDefaultControllerRecord() {
    const c = {
      kind: "default", stream: undefined, queue: undefined, queueTotalSize: 0, started: false,
      closeRequested: false, pullAgain: false, pulling: false, strategySizeAlgorithm: undefined,
      strategyHWM: 0, pullAlgorithm: undefined, cancelAlgorithm: undefined, obj: undefined,
      pullSteps: (request) => {
        const s = c.stream;
        if (c.queue.length > 0) {
          const chunk = dequeueValue(c);
          if (c.closeRequested && c.queue.length === 0) {
            readableStreamDefaultControllerClearAlgorithms(c);
            readableStreamClose(s);
          } else {
            readableStreamDefaultControllerCallPullIfNeeded(c);
          }
          request.chunk(chunk);
        } else {
          readableStreamAddReadRequest(s, request);
          readableStreamDefaultControllerCallPullIfNeeded(c);
        }
      },
      releaseSteps: noop,
      cancelSteps: (reason) => {
        resetQueue(c);
        const result = c.cancelAlgorithm(reason);
        readableStreamDefaultControllerClearAlgorithms(c);
        return result;
      },
    };
    new ReadableStreamDefaultController(INTERNAL, c);
    return c;
  }
  function readableStreamDefaultControllerCallPullIfNeeded(c) {
    if (!readableStreamDefaultControllerShouldCallPull(c)) return;
    if (c.pulling) { c.pullAgain = true; return; }
    c.pulling = true;
    upon(c.pullAlgorithm(), () => {
      c.pulling = false;
      if (c.pullAgain) { c.pullAgain = false; readableStreamDefaultControllerCallPullIfNeeded(c); }
    }, (e) => readableStreamDefaultControllerError(c, e));
  }
  function readableStreamDefaultControllerShouldCallPull(c) {
    const s = c.stream;
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(c)) return false;
    if (!c.started) return false;
    if (isReadableStreamLocked(s) && readableStreamGetNumReadRequests(s) > 0) return true;
    return readableStreamDefaultControllerGetDesiredSize(c) > 0;
  }
  function readableStreamDefaultControllerClearAlgorithms(c) {
    c.pullAlgorithm = undefined;
    c.cancelAlgorithm = undefined;
    c.strategySizeAlgorithm = undefined;
  }
  function readableStreamDefaultControllerClose(c) {
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(c)) return;
    c.closeRequested = true;
    if (c.queue.length === 0) {
      readableStreamDefaultControllerClearAlgorithms(c);
      readableStreamClose(c.stream);
    }
  }
  function readableStreamDefaultControllerEnqueue(c, chunk) {
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(c)) return;
    const s = c.stream;
    if (isReadableStreamLocked(s) && readableStreamGetNumReadRequests(s) > 0) {
      readableStreamFulfillReadRequest(s, chunk, false);
    } else {
      let size;
      try {
        size = c.strategySizeAlgorithm(chunk);
      } catch (e) {
        readableStreamDefaultControllerError(c, e);
        throw e;
      }
      try {
        enqueueValueWithSize(c, chunk, size);
      } catch (e) {
        readableStreamDefaultControllerError(c, e);
        throw e;
      }
    }
    readableStreamDefaultControllerCallPullIfNeeded(c);
  }
  function readableStreamDefaultControllerError(c, e) {
    const s = c.stream;
    if (s.state !== "readable") return;
    resetQueue(c);
    readableStreamDefaultControllerClearAlgorithms(c);
    readableStreamError(s, e);
  }
  function readableStreamDefaultControllerGetDesiredSize(c) {
    const state = c.stream.state;
    if (state === "errored") return null;
    if (state === "closed") return 0;
    return c.strategyHWM - c.queueTotalSize;
  }
  function readableStreamDefaultControllerHasBackpressure(c) { return !readableStreamDefaultControllerShouldCallPull(c); }
  function readableStreamDefaultControllerCanCloseOrEnqueue(c) { return !c.closeRequested && c.stream.state === "readable"; }
  function setUpReadableStreamDefaultController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, hwm, sizeAlgorithm) {
    c.stream = s;
    resetQueue(c);
    c.started = false; c.closeRequested = false; c.pullAgain = false; c.pulling = false;
    c.strategySizeAlgorithm = sizeAlgorithm;
    c.strategyHWM = hwm;
    c.pullAlgorithm = pullAlgorithm;
    c.cancelAlgorithm = cancelAlgorithm;
    s.controller = c;
    const startResult = startAlgorithm();
    upon(resolvedWith(startResult), () => {
      c.started = true;
      readableStreamDefaultControllerCallPullIfNeeded(c);
    }, (r) => readableStreamDefaultControllerError(c, r));
  }
  function setUpReadableStreamDefaultControllerFromUnderlyingSource(s, source, dict, hwm, sizeAlgorithm) {
    const c = newDefaultControllerRecord();
    let startAlgorithm = () => undefined;
    let pullAlgorithm = () => resolvedWith(undefined);
    let cancelAlgorithm = () => resolvedWith(undefined);
    if (dict.start !== undefined) startAlgorithm = () => apply(dict.start, source, [c.obj]);
    if (dict.pull !== undefined) pullAlgorithm = () => promiseCall(dict.pull, source, [c.obj]);
    if (dict.cancel !== undefined) cancelAlgorithm = (reason) => promiseCall(dict.cancel, source, [reason]);
    setUpReadableStreamDefaultController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, hwm, sizeAlgorithm);
  }

