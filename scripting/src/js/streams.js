// The WHATWG Streams standard (https://streams.spec.whatwg.org/), written from the
// standard's algorithms, whose names the functions below keep: readable streams
// (default and byte sources, default and BYOB readers, tee, pipes, async iteration,
// from), writable streams, transform streams and the two queuing strategies; then
// TextEncoderStream / TextDecoderStream (Encoding standard) and the Workers additions
// IdentityTransformStream and FixedLengthStream.
//
// Every public object keeps its state in one internal record (`#s`), reached by the
// abstract operations through the `rs()`, `ws()`… accessors, which also do the brand
// checks WebIDL asks for. Promises are made and chained with the original Promise
// intrinsics, so a script that patches `Promise.prototype.then` or `Object.prototype.then`
// cannot see or break a stream's internal steps.
(() => {
  "use strict";
  const OrigPromise = Promise;
  const apply = Reflect.apply;
  const promiseThen = Promise.prototype.then;
  const promiseResolve = Promise.resolve;
  const promiseReject = Promise.reject;
  const queueMicrotask = globalThis.queueMicrotask;
  const DOMException = globalThis.DOMException;
  const { onAbort, isSignal } = globalThis.__outpostSignals;
  delete globalThis.__outpostSignals;
  const AbortControllerCtor = globalThis.AbortController;
  const TypedArray = Object.getPrototypeOf(Uint8Array);
  const typedArrayName = Object.getOwnPropertyDescriptor(TypedArray.prototype, Symbol.toStringTag).get;
  const viewBuffer = Object.getOwnPropertyDescriptor(TypedArray.prototype, "buffer").get;
  const dataViewBuffer = Object.getOwnPropertyDescriptor(DataView.prototype, "buffer").get;
  const abByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;
  // The host's TransferArrayBuffer and IsDetachedBuffer (see host.rs).
  const nativeHost = globalThis.__outpostHost;
  const abSlice = ArrayBuffer.prototype.slice;
  const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);

  // ---- promises ----
  function newPromise() {
    let resolve, reject;
    const promise = new OrigPromise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject, state: "pending" };
  }
  function resolvePromise(p, v) { if (p.state === "pending") { p.state = "fulfilled"; p.resolve(v); } }
  function rejectPromise(p, e) { if (p.state === "pending") { p.state = "rejected"; p.reject(e); } }
  function resolvedRecord(v) { const p = newPromise(); resolvePromise(p, v); return p; }
  function rejectedRecord(e) { const p = newPromise(); rejectPromise(p, e); return p; }
  function resolvedWith(v) { return promiseResolve.call(OrigPromise, v); }
  function rejectedWith(e) { return promiseReject.call(OrigPromise, e); }
  function upon(p, onFulfilled, onRejected) { promiseThen.call(p, onFulfilled, onRejected); }
  function transformPromise(p, onFulfilled, onRejected) { return promiseThen.call(p, onFulfilled, onRejected); }
  function setHandled(p) { promiseThen.call(p, undefined, () => {}); }
  const noop = () => {};

  // ---- WebIDL conversions ----
  function isObject(x) { return (typeof x === "object" && x !== null) || typeof x === "function"; }
  function dictionary(v, what) {
    if (v === undefined || v === null) return {};
    if (!isObject(v)) throw new TypeError(`${what} must be an object`);
    return v;
  }
  function callbackMember(dict, key, what) {
    const f = dict[key];
    if (f === undefined) return undefined;
    if (typeof f !== "function") throw new TypeError(`${what}.${key} must be a function`);
    return f;
  }
  function enforceRangeULL(v, what) {
    const n = +v;
    if (!Number.isFinite(n)) throw new TypeError(`${what} must be a finite number`);
    const i = Math.trunc(n);
    if (i < 0 || i > Number.MAX_SAFE_INTEGER) throw new TypeError(`${what} is out of range`);
    return i;
  }
  function toBoolean(v) { return Boolean(v); }
  // Calls a promise-returning callback: a throw becomes a rejected promise.
  function promiseCall(f, thisArg, args) {
    try { return resolvedWith(apply(f, thisArg, args)); } catch (e) { return rejectedWith(e); }
  }

  // ---- ArrayBuffers ----
  function isViewTyped(v) { return typedArrayName.call(v) !== undefined; }
  function isArrayBufferView(v) { return ArrayBuffer.isView(v); }
  function bufferOf(view) { return isViewTyped(view) ? viewBuffer.call(view) : dataViewBuffer.call(view); }
  function isDetached(buffer) { return nativeHost.isDetached(buffer); }
  if (ArrayBuffer.prototype.transfer === undefined) {
    const transferTo = function (newLength) {
      if (isDetached(this)) throw new TypeError("Cannot perform ArrayBuffer.prototype.transfer on a detached ArrayBuffer");
      const length = newLength === undefined ? abByteLength.call(this) : Math.trunc(+newLength);
      if (length === abByteLength.call(this)) return nativeHost.transfer(this);
      const out = new ArrayBuffer(length);
      new Uint8Array(out).set(new Uint8Array(this, 0, Math.min(length, abByteLength.call(this))));
      nativeHost.transfer(this);
      return out;
    };
    Object.defineProperties(ArrayBuffer.prototype, {
      transfer: { value: { transfer(newLength = undefined) { return apply(transferTo, this, [newLength]); } }.transfer, writable: true, configurable: true },
      transferToFixedLength: { value: { transferToFixedLength(newLength = undefined) { return apply(transferTo, this, [newLength]); } }.transferToFixedLength, writable: true, configurable: true },
      detached: { get: Object.getOwnPropertyDescriptor({ get detached() { return isDetached(this); } }, "detached").get, configurable: true },
    });
  }
  function transferArrayBuffer(buffer) {
    if (isDetached(buffer)) throw new TypeError("the ArrayBuffer is detached");
    return nativeHost.transfer(buffer);
  }
  function cloneArrayBuffer(buffer, offset, length) { return abSlice.call(buffer, offset, offset + length); }
  function copyBytes(dest, destOffset, src, srcOffset, n) {
    new Uint8Array(dest, destOffset, n).set(new Uint8Array(src, srcOffset, n));
  }
  function cloneAsUint8Array(view) {
    return new Uint8Array(cloneArrayBuffer(bufferOf(view), view.byteOffset, view.byteLength));
  }
  const ELEMENT_SIZE = {
    Int8Array: 1, Uint8Array: 1, Uint8ClampedArray: 1, Int16Array: 2, Uint16Array: 2, Int32Array: 4,
    Uint32Array: 4, Float16Array: 2, Float32Array: 4, Float64Array: 8, BigInt64Array: 8, BigUint64Array: 8,
  };

  // ---- queues with sizes ----
  // A FIFO that shifts in O(1).
  class Queue {
    constructor() { this.items = []; this.head = 0; }
    get length() { return this.items.length - this.head; }
    push(x) { this.items.push(x); }
    peek() { return this.items[this.head]; }
    shift() {
      const x = this.items[this.head];
      this.items[this.head] = undefined;
      this.head++;
      if (this.head > 64 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return x;
    }
    clear() { this.items = []; this.head = 0; }
    toArray() { return this.items.slice(this.head); }
  }
  function isNonNegativeNumber(v) { return typeof v === "number" && !Number.isNaN(v) && v >= 0; }
  function enqueueValueWithSize(c, value, size) {
    if (!isNonNegativeNumber(size) || size === Infinity) throw new RangeError("the chunk size must be a finite, non-negative number");
    c.queue.push({ value, size });
    c.queueTotalSize += size;
  }
  function dequeueValue(c) {
    const pair = c.queue.shift();
    c.queueTotalSize -= pair.size;
    if (c.queueTotalSize < 0) c.queueTotalSize = 0;
    return pair.value;
  }
  function peekQueueValue(c) { return c.queue.peek().value; }
  function resetQueue(c) { c.queue = new Queue(); c.queueTotalSize = 0; }

  // ---- strategies ----
  function strategyDict(strategy) {
    const d = dictionary(strategy, "the queuing strategy");
    const hwm = d.highWaterMark;
    const out = { highWaterMark: hwm === undefined ? undefined : +hwm, size: undefined };
    const size = d.size;
    if (size !== undefined) {
      if (typeof size !== "function") throw new TypeError("the queuing strategy's size must be a function");
      out.size = size;
    }
    return out;
  }
  function extractHighWaterMark(strategy, defaultHWM) {
    if (strategy.highWaterMark === undefined) return defaultHWM;
    const hwm = strategy.highWaterMark;
    if (Number.isNaN(hwm) || hwm < 0) throw new RangeError("the highWaterMark must be a non-negative number");
    return hwm;
  }
  function extractSizeAlgorithm(strategy) {
    const size = strategy.size;
    if (size === undefined) return () => 1;
    return (chunk) => apply(size, undefined, [chunk]);
  }

  // =====================================================================
  // Readable streams
  // =====================================================================
  let rs, rsMaybe, newRS;
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
    static {
      rsMaybe = (o) => { try { return o.#s; } catch { return undefined; } };
      rs = (o) => { try { return o.#s; } catch { throw new TypeError("not a ReadableStream"); } };
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

  function initializeReadableStream() {
    return { state: "readable", reader: undefined, storedError: undefined, disturbed: false, controller: undefined, obj: undefined };
  }
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

  // ---- byte stream controller ----
  let rbsc, byobReq;
  class ReadableByteStreamController {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { rbsc = (o) => { try { return o.#s; } catch { throw new TypeError("not a ReadableByteStreamController"); } }; }
    get byobRequest() { return readableByteStreamControllerGetBYOBRequest(rbsc(this)); }
    get desiredSize() { return readableByteStreamControllerGetDesiredSize(rbsc(this)); }
    close() {
      const c = rbsc(this);
      if (c.closeRequested) throw new TypeError("the stream is already closing");
      if (c.stream.state !== "readable") throw new TypeError("the stream is not readable");
      readableByteStreamControllerClose(c);
    }
    enqueue(chunk) {
      const c = rbsc(this);
      if (!isArrayBufferView(chunk)) throw new TypeError("enqueue() expects an ArrayBufferView");
      if (chunk.byteLength === 0) throw new TypeError("enqueue() needs a chunk with a non-zero byteLength");
      if (abByteLength.call(bufferOf(chunk)) === 0) throw new TypeError("enqueue() needs a chunk on a non-empty buffer");
      if (c.closeRequested) throw new TypeError("the stream is closing");
      if (c.stream.state !== "readable") throw new TypeError("the stream is not readable");
      readableByteStreamControllerEnqueue(c, chunk);
    }
    error(e = undefined) { readableByteStreamControllerError(rbsc(this), e); }
  }
  class ReadableStreamBYOBRequest {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { byobReq = (o) => { try { return o.#s; } catch { throw new TypeError("not a ReadableStreamBYOBRequest"); } }; }
    get view() { return byobReq(this).view; }
    respond(bytesWritten) {
      const r = byobReq(this);
      bytesWritten = enforceRangeULL(bytesWritten, "bytesWritten");
      if (r.controller === undefined) throw new TypeError("this request has been invalidated");
      if (isDetached(bufferOf(r.view))) throw new TypeError("the view's buffer has been detached");
      readableByteStreamControllerRespond(r.controller, bytesWritten);
    }
    respondWithNewView(view) {
      const r = byobReq(this);
      if (!isArrayBufferView(view)) throw new TypeError("respondWithNewView() expects an ArrayBufferView");
      if (r.controller === undefined) throw new TypeError("this request has been invalidated");
      if (isDetached(bufferOf(view))) throw new TypeError("the view's buffer has been detached");
      readableByteStreamControllerRespondWithNewView(r.controller, view);
    }
  }
  function newByteControllerRecord() {
    const c = {
      kind: "byte", stream: undefined, queue: undefined, queueTotalSize: 0, started: false,
      closeRequested: false, pullAgain: false, pulling: false, byobRequest: null, strategyHWM: 0,
      pullAlgorithm: undefined, cancelAlgorithm: undefined, autoAllocateChunkSize: undefined,
      pendingPullIntos: [], obj: undefined,
      pullSteps: (request) => {
        const s = c.stream;
        if (c.queueTotalSize > 0) {
          readableByteStreamControllerFillReadRequestFromQueue(c, request);
          return;
        }
        const size = c.autoAllocateChunkSize;
        if (size !== undefined) {
          let buffer;
          try { buffer = new ArrayBuffer(size); } catch (e) { request.error(e); return; }
          c.pendingPullIntos.push({
            buffer, bufferByteLength: size, byteOffset: 0, byteLength: size, bytesFilled: 0,
            minimumFill: 1, elementSize: 1, viewConstructor: Uint8Array, readerType: "default",
          });
        }
        readableStreamAddReadRequest(s, request);
        readableByteStreamControllerCallPullIfNeeded(c);
      },
      releaseSteps: () => {
        if (c.pendingPullIntos.length > 0) {
          const first = c.pendingPullIntos[0];
          first.readerType = "none";
          c.pendingPullIntos = [first];
        }
      },
      cancelSteps: (reason) => {
        readableByteStreamControllerClearPendingPullIntos(c);
        resetQueue(c);
        const result = c.cancelAlgorithm(reason);
        readableByteStreamControllerClearAlgorithms(c);
        return result;
      },
    };
    new ReadableByteStreamController(INTERNAL, c);
    return c;
  }
  function readableByteStreamControllerCallPullIfNeeded(c) {
    if (!readableByteStreamControllerShouldCallPull(c)) return;
    if (c.pulling) { c.pullAgain = true; return; }
    c.pulling = true;
    upon(c.pullAlgorithm(), () => {
      c.pulling = false;
      if (c.pullAgain) { c.pullAgain = false; readableByteStreamControllerCallPullIfNeeded(c); }
    }, (e) => readableByteStreamControllerError(c, e));
  }
  function readableByteStreamControllerClearAlgorithms(c) {
    c.pullAlgorithm = undefined;
    c.cancelAlgorithm = undefined;
  }
  function readableByteStreamControllerClearPendingPullIntos(c) {
    readableByteStreamControllerInvalidateBYOBRequest(c);
    c.pendingPullIntos = [];
  }
  function readableByteStreamControllerClose(c) {
    const s = c.stream;
    if (c.closeRequested || s.state !== "readable") return;
    if (c.queueTotalSize > 0) { c.closeRequested = true; return; }
    if (c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      if (first.bytesFilled % first.elementSize !== 0) {
        const e = new TypeError("close() leaves a partial element in the pending read");
        readableByteStreamControllerError(c, e);
        throw e;
      }
    }
    readableByteStreamControllerClearAlgorithms(c);
    readableStreamClose(s);
  }
  function readableByteStreamControllerCommitPullIntoDescriptor(s, d) {
    let done = false;
    if (s.state === "closed") done = true;
    const filledView = readableByteStreamControllerConvertPullIntoDescriptor(d);
    if (d.readerType === "default") readableStreamFulfillReadRequest(s, filledView, done);
    else readableStreamFulfillReadIntoRequest(s, filledView, done);
  }
  function readableByteStreamControllerConvertPullIntoDescriptor(d) {
    const buffer = transferArrayBuffer(d.buffer);
    return new d.viewConstructor(buffer, d.byteOffset, d.bytesFilled / d.elementSize);
  }
  function readableByteStreamControllerEnqueue(c, chunk) {
    const s = c.stream;
    if (c.closeRequested || s.state !== "readable") return;
    const buffer = bufferOf(chunk);
    const byteOffset = chunk.byteOffset;
    const byteLength = chunk.byteLength;
    if (isDetached(buffer)) throw new TypeError("the chunk's buffer is detached");
    const transferred = transferArrayBuffer(buffer);
    if (c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      if (isDetached(first.buffer)) throw new TypeError("the pending read's buffer is detached");
      readableByteStreamControllerInvalidateBYOBRequest(c);
      first.buffer = transferArrayBuffer(first.buffer);
      if (first.readerType === "none") readableByteStreamControllerEnqueueDetachedPullIntoToQueue(c, first);
    }
    if (readableStreamHasDefaultReader(s)) {
      readableByteStreamControllerProcessReadRequestsUsingQueue(c);
      if (readableStreamGetNumReadRequests(s) === 0) {
        readableByteStreamControllerEnqueueChunkToQueue(c, transferred, byteOffset, byteLength);
      } else {
        if (c.pendingPullIntos.length > 0) readableByteStreamControllerShiftPendingPullInto(c);
        readableStreamFulfillReadRequest(s, new Uint8Array(transferred, byteOffset, byteLength), false);
      }
    } else if (readableStreamHasBYOBReader(s)) {
      readableByteStreamControllerEnqueueChunkToQueue(c, transferred, byteOffset, byteLength);
      const filled = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c);
      for (const d of filled) readableByteStreamControllerCommitPullIntoDescriptor(s, d);
    } else {
      readableByteStreamControllerEnqueueChunkToQueue(c, transferred, byteOffset, byteLength);
    }
    readableByteStreamControllerCallPullIfNeeded(c);
  }
  function readableByteStreamControllerEnqueueChunkToQueue(c, buffer, byteOffset, byteLength) {
    c.queue.push({ buffer, byteOffset, byteLength });
    c.queueTotalSize += byteLength;
  }
  function readableByteStreamControllerEnqueueClonedChunkToQueue(c, buffer, byteOffset, byteLength) {
    let clone;
    try {
      clone = cloneArrayBuffer(buffer, byteOffset, byteLength);
    } catch (e) {
      readableByteStreamControllerError(c, e);
      throw e;
    }
    readableByteStreamControllerEnqueueChunkToQueue(c, clone, 0, byteLength);
  }
  function readableByteStreamControllerEnqueueDetachedPullIntoToQueue(c, d) {
    if (d.bytesFilled > 0) readableByteStreamControllerEnqueueClonedChunkToQueue(c, d.buffer, d.byteOffset, d.bytesFilled);
    readableByteStreamControllerShiftPendingPullInto(c);
  }
  function readableByteStreamControllerFillPullIntoDescriptorFromQueue(c, d) {
    const maxBytesToCopy = Math.min(c.queueTotalSize, d.byteLength - d.bytesFilled);
    const maxBytesFilled = d.bytesFilled + maxBytesToCopy;
    let totalBytesToCopyRemaining = maxBytesToCopy;
    let ready = false;
    const remainderBytes = maxBytesFilled % d.elementSize;
    const maxAlignedBytes = maxBytesFilled - remainderBytes;
    if (maxAlignedBytes >= d.minimumFill) {
      totalBytesToCopyRemaining = maxAlignedBytes - d.bytesFilled;
      ready = true;
    }
    const queue = c.queue;
    while (totalBytesToCopyRemaining > 0) {
      const head = queue.peek();
      const bytesToCopy = Math.min(totalBytesToCopyRemaining, head.byteLength);
      const destStart = d.byteOffset + d.bytesFilled;
      copyBytes(d.buffer, destStart, head.buffer, head.byteOffset, bytesToCopy);
      if (head.byteLength === bytesToCopy) queue.shift();
      else { head.byteOffset += bytesToCopy; head.byteLength -= bytesToCopy; }
      c.queueTotalSize -= bytesToCopy;
      readableByteStreamControllerFillHeadPullIntoDescriptor(c, bytesToCopy, d);
      totalBytesToCopyRemaining -= bytesToCopy;
    }
    return ready;
  }
  function readableByteStreamControllerFillReadRequestFromQueue(c, request) {
    const entry = c.queue.shift();
    c.queueTotalSize -= entry.byteLength;
    readableByteStreamControllerHandleQueueDrain(c);
    request.chunk(new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
  }
  function readableByteStreamControllerGetBYOBRequest(c) {
    if (c.byobRequest === null && c.pendingPullIntos.length > 0) {
      const first = c.pendingPullIntos[0];
      const view = new Uint8Array(first.buffer, first.byteOffset + first.bytesFilled, first.byteLength - first.bytesFilled);
      const rec = { controller: c, view, obj: undefined };
      new ReadableStreamBYOBRequest(INTERNAL, rec);
      c.byobRequest = rec;
    }
    return c.byobRequest === null ? null : c.byobRequest.obj;
  }
  function readableByteStreamControllerGetDesiredSize(c) {
    const state = c.stream.state;
    if (state === "errored") return null;
    if (state === "closed") return 0;
    return c.strategyHWM - c.queueTotalSize;
  }
  function readableByteStreamControllerHandleQueueDrain(c) {
    if (c.queueTotalSize === 0 && c.closeRequested) {
      readableByteStreamControllerClearAlgorithms(c);
      readableStreamClose(c.stream);
    } else {
      readableByteStreamControllerCallPullIfNeeded(c);
    }
  }
  function readableByteStreamControllerInvalidateBYOBRequest(c) {
    if (c.byobRequest === null) return;
    c.byobRequest.controller = undefined;
    c.byobRequest.view = null;
    c.byobRequest = null;
  }
  function readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c) {
    const filled = [];
    while (c.pendingPullIntos.length > 0) {
      if (c.queueTotalSize === 0) break;
      const d = c.pendingPullIntos[0];
      if (readableByteStreamControllerFillPullIntoDescriptorFromQueue(c, d)) {
        readableByteStreamControllerShiftPendingPullInto(c);
        filled.push(d);
      }
    }
    return filled;
  }
  function readableByteStreamControllerProcessReadRequestsUsingQueue(c) {
    const reader = c.stream.reader;
    while (reader.readRequests.length > 0) {
      if (c.queueTotalSize === 0) return;
      const request = reader.readRequests.shift();
      readableByteStreamControllerFillReadRequestFromQueue(c, request);
    }
  }
  function readableByteStreamControllerPullInto(c, view, min, request) {
    const s = c.stream;
    let elementSize = 1;
    let ctor = DataView;
    const name = typedArrayName.call(view);
    if (name !== undefined) {
      elementSize = ELEMENT_SIZE[name];
      ctor = globalThis[name];
    }
    const minimumFill = min * elementSize;
    const byteOffset = view.byteOffset;
    const byteLength = view.byteLength;
    let buffer;
    try {
      buffer = transferArrayBuffer(bufferOf(view));
    } catch (e) {
      request.error(e);
      return;
    }
    const d = {
      buffer, bufferByteLength: abByteLength.call(buffer), byteOffset, byteLength, bytesFilled: 0,
      minimumFill, elementSize, viewConstructor: ctor, readerType: "byob",
    };
    if (c.pendingPullIntos.length > 0) {
      c.pendingPullIntos.push(d);
      readableStreamAddReadIntoRequest(s, request);
      return;
    }
    if (s.state === "closed") {
      request.close(new ctor(d.buffer, d.byteOffset, 0));
      return;
    }
    if (c.queueTotalSize > 0) {
      if (readableByteStreamControllerFillPullIntoDescriptorFromQueue(c, d)) {
        const filledView = readableByteStreamControllerConvertPullIntoDescriptor(d);
        readableByteStreamControllerHandleQueueDrain(c);
        request.chunk(filledView);
        return;
      }
      if (c.closeRequested) {
        const e = new TypeError("the stream closed with a partial element");
        readableByteStreamControllerError(c, e);
        request.error(e);
        return;
      }
    }
    c.pendingPullIntos.push(d);
    readableStreamAddReadIntoRequest(s, request);
    readableByteStreamControllerCallPullIfNeeded(c);
  }
  function readableByteStreamControllerRespond(c, bytesWritten) {
    const first = c.pendingPullIntos[0];
    const state = c.stream.state;
    if (state === "closed") {
      if (bytesWritten !== 0) throw new TypeError("bytesWritten must be 0 once the stream is closed");
    } else {
      if (bytesWritten === 0) throw new TypeError("bytesWritten must be greater than 0 while the stream is readable");
      if (first.bytesFilled + bytesWritten > first.byteLength) throw new RangeError("bytesWritten is more than the view holds");
    }
    first.buffer = transferArrayBuffer(first.buffer);
    readableByteStreamControllerRespondInternal(c, bytesWritten);
  }
  function readableByteStreamControllerRespondInClosedState(c, first) {
    if (first.readerType === "none") readableByteStreamControllerShiftPendingPullInto(c);
    const s = c.stream;
    if (readableStreamHasBYOBReader(s)) {
      const filled = [];
      while (filled.length < readableStreamGetNumReadIntoRequests(s)) {
        filled.push(readableByteStreamControllerShiftPendingPullInto(c));
      }
      for (const d of filled) readableByteStreamControllerCommitPullIntoDescriptor(s, d);
    }
  }
  function readableByteStreamControllerRespondInReadableState(c, bytesWritten, d) {
    readableByteStreamControllerFillHeadPullIntoDescriptor(c, bytesWritten, d);
    if (d.readerType === "none") {
      readableByteStreamControllerEnqueueDetachedPullIntoToQueue(c, d);
      const filled = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c);
      for (const f of filled) readableByteStreamControllerCommitPullIntoDescriptor(c.stream, f);
      return;
    }
    if (d.bytesFilled < d.minimumFill) return;
    readableByteStreamControllerShiftPendingPullInto(c);
    const remainderSize = d.bytesFilled % d.elementSize;
    if (remainderSize > 0) {
      const end = d.byteOffset + d.bytesFilled;
      readableByteStreamControllerEnqueueClonedChunkToQueue(c, d.buffer, end - remainderSize, remainderSize);
    }
    d.bytesFilled -= remainderSize;
    const filled = readableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(c);
    readableByteStreamControllerCommitPullIntoDescriptor(c.stream, d);
    for (const f of filled) readableByteStreamControllerCommitPullIntoDescriptor(c.stream, f);
  }
  function readableByteStreamControllerRespondInternal(c, bytesWritten) {
    const first = c.pendingPullIntos[0];
    readableByteStreamControllerInvalidateBYOBRequest(c);
    if (c.stream.state === "closed") readableByteStreamControllerRespondInClosedState(c, first);
    else readableByteStreamControllerRespondInReadableState(c, bytesWritten, first);
    readableByteStreamControllerCallPullIfNeeded(c);
  }
  function readableByteStreamControllerRespondWithNewView(c, view) {
    const first = c.pendingPullIntos[0];
    const state = c.stream.state;
    if (state === "closed") {
      if (view.byteLength !== 0) throw new TypeError("the view must be empty once the stream is closed");
    } else if (view.byteLength === 0) {
      throw new TypeError("the view must not be empty while the stream is readable");
    }
    if (first.byteOffset + first.bytesFilled !== view.byteOffset) throw new RangeError("the view does not start where the request's view did");
    const buffer = bufferOf(view);
    if (first.bufferByteLength !== abByteLength.call(buffer)) throw new RangeError("the view's buffer is not the request's buffer");
    if (first.bytesFilled + view.byteLength > first.byteLength) throw new RangeError("the view is larger than the request's view");
    const viewByteLength = view.byteLength;
    first.buffer = transferArrayBuffer(buffer);
    readableByteStreamControllerRespondInternal(c, viewByteLength);
  }
  function readableByteStreamControllerShiftPendingPullInto(c) { return c.pendingPullIntos.shift(); }
  function readableByteStreamControllerShouldCallPull(c) {
    const s = c.stream;
    if (s.state !== "readable") return false;
    if (c.closeRequested) return false;
    if (!c.started) return false;
    if (readableStreamHasDefaultReader(s) && readableStreamGetNumReadRequests(s) > 0) return true;
    if (readableStreamHasBYOBReader(s) && readableStreamGetNumReadIntoRequests(s) > 0) return true;
    return readableByteStreamControllerGetDesiredSize(c) > 0;
  }
  function readableByteStreamControllerError(c, e) {
    const s = c.stream;
    if (s.state !== "readable") return;
    readableByteStreamControllerClearPendingPullIntos(c);
    resetQueue(c);
    readableByteStreamControllerClearAlgorithms(c);
    readableStreamError(s, e);
  }
  function readableByteStreamControllerFillHeadPullIntoDescriptor(c, size, d) { d.bytesFilled += size; }
  function setUpReadableByteStreamController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, hwm, autoAllocateChunkSize) {
    c.stream = s;
    c.pullAgain = false; c.pulling = false; c.byobRequest = null;
    resetQueue(c);
    c.closeRequested = false; c.started = false;
    c.strategyHWM = hwm;
    c.pullAlgorithm = pullAlgorithm;
    c.cancelAlgorithm = cancelAlgorithm;
    c.autoAllocateChunkSize = autoAllocateChunkSize;
    c.pendingPullIntos = [];
    s.controller = c;
    const startResult = startAlgorithm();
    upon(resolvedWith(startResult), () => {
      c.started = true;
      readableByteStreamControllerCallPullIfNeeded(c);
    }, (r) => readableByteStreamControllerError(c, r));
  }
  function setUpReadableByteStreamControllerFromUnderlyingSource(s, source, dict, hwm) {
    const c = newByteControllerRecord();
    let startAlgorithm = () => undefined;
    let pullAlgorithm = () => resolvedWith(undefined);
    let cancelAlgorithm = () => resolvedWith(undefined);
    if (dict.start !== undefined) startAlgorithm = () => apply(dict.start, source, [c.obj]);
    if (dict.pull !== undefined) pullAlgorithm = () => promiseCall(dict.pull, source, [c.obj]);
    if (dict.cancel !== undefined) cancelAlgorithm = (reason) => promiseCall(dict.cancel, source, [reason]);
    const size = dict.autoAllocateChunkSize;
    if (size === 0) throw new TypeError("autoAllocateChunkSize must be greater than 0");
    setUpReadableByteStreamController(s, c, startAlgorithm, pullAlgorithm, cancelAlgorithm, hwm, size);
  }

  // ---- tee ----
  function readableStreamTee(s, cloneForBranch2) {
    if (s.controller.kind === "byte") return readableByteStreamTee(s);
    return readableStreamDefaultTee(s, cloneForBranch2);
  }
  function readableStreamDefaultTee(s, cloneForBranch2) {
    const reader = acquireReadableStreamDefaultReader(s);
    let reading = false, readAgain = false, canceled1 = false, canceled2 = false;
    let reason1, reason2, branch1, branch2;
    const cancelPromise = newPromise();
    const pullAlgorithm = () => {
      if (reading) { readAgain = true; return resolvedWith(undefined); }
      reading = true;
      readableStreamDefaultReaderRead(reader, {
        chunk: (chunk) => queueMicrotask(() => {
          readAgain = false;
          const chunk1 = chunk;
          let chunk2 = chunk;
          if (!canceled2 && cloneForBranch2) chunk2 = structuredClone(chunk);
          if (!canceled1) readableStreamDefaultControllerEnqueue(branch1.controller, chunk1);
          if (!canceled2) readableStreamDefaultControllerEnqueue(branch2.controller, chunk2);
          reading = false;
          if (readAgain) pullAlgorithm();
        }),
        close: () => {
          reading = false;
          if (!canceled1) readableStreamDefaultControllerClose(branch1.controller);
          if (!canceled2) readableStreamDefaultControllerClose(branch2.controller);
          if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
        },
        error: () => { reading = false; },
      });
      return resolvedWith(undefined);
    };
    const cancel1Algorithm = (reason) => {
      canceled1 = true;
      reason1 = reason;
      if (canceled2) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const cancel2Algorithm = (reason) => {
      canceled2 = true;
      reason2 = reason;
      if (canceled1) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const start = () => undefined;
    branch1 = createReadableStream(start, pullAlgorithm, cancel1Algorithm);
    branch2 = createReadableStream(start, pullAlgorithm, cancel2Algorithm);
    upon(reader.closed.promise, undefined, (r) => {
      readableStreamDefaultControllerError(branch1.controller, r);
      readableStreamDefaultControllerError(branch2.controller, r);
      if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
    });
    return [branch1, branch2];
  }
  function readableByteStreamTee(s) {
    let reader = acquireReadableStreamDefaultReader(s);
    let reading = false, readAgainForBranch1 = false, readAgainForBranch2 = false;
    let canceled1 = false, canceled2 = false, reason1, reason2, branch1, branch2;
    const cancelPromise = newPromise();
    const forwardReaderError = (thisReader) => {
      upon(thisReader.closed.promise, undefined, (r) => {
        if (thisReader !== reader) return;
        readableByteStreamControllerError(branch1.controller, r);
        readableByteStreamControllerError(branch2.controller, r);
        if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
      });
    };
    const pullWithDefaultReader = () => {
      if (reader.kind === "byob") {
        readableStreamBYOBReaderRelease(reader);
        reader = acquireReadableStreamDefaultReader(s);
        forwardReaderError(reader);
      }
      readableStreamDefaultReaderRead(reader, {
        chunk: (chunk) => queueMicrotask(() => {
          readAgainForBranch1 = false;
          readAgainForBranch2 = false;
          const chunk1 = chunk;
          let chunk2 = chunk;
          if (!canceled1 && !canceled2) {
            try {
              chunk2 = cloneAsUint8Array(chunk);
            } catch (e) {
              readableByteStreamControllerError(branch1.controller, e);
              readableByteStreamControllerError(branch2.controller, e);
              resolvePromise(cancelPromise, readableStreamCancel(s, e));
              return;
            }
          }
          if (!canceled1) readableByteStreamControllerEnqueue(branch1.controller, chunk1);
          if (!canceled2) readableByteStreamControllerEnqueue(branch2.controller, chunk2);
          reading = false;
          if (readAgainForBranch1) pull1Algorithm();
          else if (readAgainForBranch2) pull2Algorithm();
        }),
        close: () => {
          reading = false;
          if (!canceled1) readableByteStreamControllerClose(branch1.controller);
          if (!canceled2) readableByteStreamControllerClose(branch2.controller);
          if (branch1.controller.pendingPullIntos.length > 0) readableByteStreamControllerRespond(branch1.controller, 0);
          if (branch2.controller.pendingPullIntos.length > 0) readableByteStreamControllerRespond(branch2.controller, 0);
          if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
        },
        error: () => { reading = false; },
      });
    };
    const pullWithBYOBReader = (view, forBranch2) => {
      if (reader.kind === "default") {
        readableStreamDefaultReaderRelease(reader);
        reader = acquireReadableStreamBYOBReader(s);
        forwardReaderError(reader);
      }
      const byobBranch = forBranch2 ? branch2 : branch1;
      const otherBranch = forBranch2 ? branch1 : branch2;
      readableStreamBYOBReaderRead(reader, view, 1, {
        chunk: (chunk) => queueMicrotask(() => {
          readAgainForBranch1 = false;
          readAgainForBranch2 = false;
          const byobCanceled = forBranch2 ? canceled2 : canceled1;
          const otherCanceled = forBranch2 ? canceled1 : canceled2;
          if (!otherCanceled) {
            let cloned;
            try {
              cloned = cloneAsUint8Array(chunk);
            } catch (e) {
              readableByteStreamControllerError(byobBranch.controller, e);
              readableByteStreamControllerError(otherBranch.controller, e);
              resolvePromise(cancelPromise, readableStreamCancel(s, e));
              return;
            }
            if (!byobCanceled) readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
            readableByteStreamControllerEnqueue(otherBranch.controller, cloned);
          } else if (!byobCanceled) {
            readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
          }
          reading = false;
          if (readAgainForBranch1) pull1Algorithm();
          else if (readAgainForBranch2) pull2Algorithm();
        }),
        close: (chunk) => {
          reading = false;
          const byobCanceled = forBranch2 ? canceled2 : canceled1;
          const otherCanceled = forBranch2 ? canceled1 : canceled2;
          if (!byobCanceled) readableByteStreamControllerClose(byobBranch.controller);
          if (!otherCanceled) readableByteStreamControllerClose(otherBranch.controller);
          if (chunk !== undefined) {
            if (!byobCanceled) readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
            if (!otherCanceled && otherBranch.controller.pendingPullIntos.length > 0) {
              readableByteStreamControllerRespond(otherBranch.controller, 0);
            }
          }
          if (!byobCanceled || !otherCanceled) resolvePromise(cancelPromise, undefined);
        },
        error: () => { reading = false; },
      });
    };
    const pull1Algorithm = () => {
      if (reading) { readAgainForBranch1 = true; return resolvedWith(undefined); }
      reading = true;
      const req = readableByteStreamControllerGetBYOBRequest(branch1.controller);
      if (req === null) pullWithDefaultReader();
      else pullWithBYOBReader(byobReq(req).view, false);
      return resolvedWith(undefined);
    };
    const pull2Algorithm = () => {
      if (reading) { readAgainForBranch2 = true; return resolvedWith(undefined); }
      reading = true;
      const req = readableByteStreamControllerGetBYOBRequest(branch2.controller);
      if (req === null) pullWithDefaultReader();
      else pullWithBYOBReader(byobReq(req).view, true);
      return resolvedWith(undefined);
    };
    const cancel1Algorithm = (reason) => {
      canceled1 = true;
      reason1 = reason;
      if (canceled2) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const cancel2Algorithm = (reason) => {
      canceled2 = true;
      reason2 = reason;
      if (canceled1) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const start = () => undefined;
    branch1 = createReadableByteStream(start, pull1Algorithm, cancel1Algorithm);
    branch2 = createReadableByteStream(start, pull2Algorithm, cancel2Algorithm);
    forwardReaderError(reader);
    return [branch1, branch2];
  }

  // ---- pipes ----
  function readableStreamPipeTo(source, dest, preventClose, preventAbort, preventCancel, signal) {
    const reader = acquireReadableStreamDefaultReader(source);
    const writer = acquireWritableStreamDefaultWriter(dest);
    source.disturbed = true;
    let shuttingDown = false;
    let currentWrite = resolvedWith(undefined);
    const promise = newPromise();
    let removeAbort = noop;

    const finalize = (isError, error) => {
      writableStreamDefaultWriterRelease(writer);
      readableStreamDefaultReaderRelease(reader);
      removeAbort();
      if (isError) rejectPromise(promise, error);
      else resolvePromise(promise, undefined);
    };
    const waitForWritesToFinish = () => {
      const old = currentWrite;
      return transformPromise(currentWrite, () => (old !== currentWrite ? waitForWritesToFinish() : undefined));
    };
    const shutdownWithAnAction = (action, originalIsError, originalError) => {
      if (shuttingDown) return;
      shuttingDown = true;
      const doTheRest = () => {
        upon(action(), () => finalize(originalIsError, originalError), (newError) => finalize(true, newError));
      };
      if (dest.state === "writable" && !writableStreamCloseQueuedOrInFlight(dest)) upon(waitForWritesToFinish(), doTheRest);
      else doTheRest();
    };
    const shutdown = (isError, error) => {
      if (shuttingDown) return;
      shuttingDown = true;
      if (dest.state === "writable" && !writableStreamCloseQueuedOrInFlight(dest)) {
        upon(waitForWritesToFinish(), () => finalize(isError, error));
      } else {
        finalize(isError, error);
      }
    };

    if (signal !== undefined) {
      const abortAlgorithm = () => {
        const error = signal.reason;
        const actions = [];
        if (!preventAbort) actions.push(() => (dest.state === "writable" ? writableStreamAbort(dest, error) : resolvedWith(undefined)));
        if (!preventCancel) actions.push(() => (source.state === "readable" ? readableStreamCancel(source, error) : resolvedWith(undefined)));
        shutdownWithAnAction(() => waitForAll(actions.map((a) => a())), true, error);
      };
      if (signal.aborted) {
        abortAlgorithm();
        return promise.promise;
      }
      removeAbort = onAbort(signal, abortAlgorithm);
    }

    const pipeStep = () => {
      if (shuttingDown) return resolvedWith(true);
      return transformPromise(writer.ready.promise, () => new OrigPromise((resolveRead, rejectRead) => {
        readableStreamDefaultReaderRead(reader, {
          chunk: (chunk) => {
            currentWrite = transformPromise(writableStreamDefaultWriterWrite(writer, chunk), undefined, noop);
            resolveRead(false);
          },
          close: () => resolveRead(true),
          error: rejectRead,
        });
      }));
    };
    const pipeLoop = () => new OrigPromise((resolveLoop, rejectLoop) => {
      const next = (done) => {
        if (done) resolveLoop();
        else upon(pipeStep(), next, rejectLoop);
      };
      next(false);
    });

    // Errors must be propagated forward
    if (source.state === "errored") {
      if (!preventAbort) shutdownWithAnAction(() => writableStreamAbort(dest, source.storedError), true, source.storedError);
      else shutdown(true, source.storedError);
    } else {
      upon(reader.closed.promise, undefined, (e) => {
        if (!preventAbort) shutdownWithAnAction(() => writableStreamAbort(dest, e), true, e);
        else shutdown(true, e);
      });
    }
    // Errors must be propagated backward
    if (dest.state === "errored") {
      if (!preventCancel) shutdownWithAnAction(() => readableStreamCancel(source, dest.storedError), true, dest.storedError);
      else shutdown(true, dest.storedError);
    } else {
      upon(writer.closed.promise, undefined, (e) => {
        if (!preventCancel) shutdownWithAnAction(() => readableStreamCancel(source, e), true, e);
        else shutdown(true, e);
      });
    }
    // Closing must be propagated forward
    if (source.state === "closed") {
      if (!preventClose) shutdownWithAnAction(() => writableStreamDefaultWriterCloseWithErrorPropagation(writer));
      else shutdown();
    } else {
      upon(reader.closed.promise, () => {
        if (!preventClose) shutdownWithAnAction(() => writableStreamDefaultWriterCloseWithErrorPropagation(writer));
        else shutdown();
      });
    }
    // Closing must be propagated backward
    if (writableStreamCloseQueuedOrInFlight(dest) || dest.state === "closed") {
      const destClosed = new TypeError("the destination writable stream closed before all the data could be piped to it");
      if (!preventCancel) shutdownWithAnAction(() => readableStreamCancel(source, destClosed), true, destClosed);
      else shutdown(true, destClosed);
    }
    setHandled(pipeLoop());
    return promise.promise;
  }
  // "Waiting for all" of WebIDL, with the original intrinsics.
  function waitForAll(promises) {
    const p = newPromise();
    let left = promises.length;
    if (left === 0) { resolvePromise(p, undefined); return p.promise; }
    for (const q of promises) {
      upon(q, () => { if (--left === 0) resolvePromise(p, undefined); }, (e) => rejectPromise(p, e));
    }
    return p.promise;
  }

  // ---- async iteration ----
  const iterators = new WeakMap();
  const iterRec = (o) => (isObject(o) ? iterators.get(o) : undefined);
  function newAsyncIterator(rec) {
    const it = Object.create(iteratorPrototype);
    iterators.set(it, rec);
    return it;
  }
  const iteratorPrototype = Object.create(AsyncIteratorPrototype);
  Object.defineProperties(iteratorPrototype, {
    next: { writable: true, enumerable: true, configurable: true, value: { next() {
      const it = iterRec(this);
      if (it === undefined) return rejectedWith(new TypeError("not a ReadableStream async iterator"));
      const nextSteps = () => {
        if (it.finished) return resolvedWith({ value: undefined, done: true });
        const p = newPromise();
        const reader = it.reader;
        readableStreamDefaultReaderRead(reader, {
          chunk: (chunk) => resolvePromise(p, chunk),
          close: () => { readableStreamDefaultReaderRelease(reader); resolvePromise(p, END); },
          error: (e) => { readableStreamDefaultReaderRelease(reader); rejectPromise(p, e); },
        });
        return transformPromise(p.promise, (v) => {
          it.ongoing = undefined;
          if (v === END) { it.finished = true; return { value: undefined, done: true }; }
          return { value: v, done: false };
        }, (e) => {
          it.ongoing = undefined;
          it.finished = true;
          throw e;
        });
      };
      it.ongoing = it.ongoing !== undefined ? transformPromise(it.ongoing, nextSteps, nextSteps) : nextSteps();
      return it.ongoing;
    } }.next },
    return: { writable: true, enumerable: true, configurable: true, value: { return(value) {
      const it = iterRec(this);
      if (it === undefined) return rejectedWith(new TypeError("not a ReadableStream async iterator"));
      const returnSteps = () => {
        if (it.finished) return resolvedWith({ value, done: true });
        it.finished = true;
        const reader = it.reader;
        if (reader.stream === undefined) return resolvedWith(undefined);
        if (!it.preventCancel) {
          const result = readableStreamCancel(reader.stream, value);
          readableStreamDefaultReaderRelease(reader);
          return result;
        }
        readableStreamDefaultReaderRelease(reader);
        return resolvedWith(undefined);
      };
      const p = it.ongoing !== undefined ? transformPromise(it.ongoing, returnSteps, returnSteps) : returnSteps();
      it.ongoing = p;
      return transformPromise(p, () => ({ value, done: true }));
    } }.return },
    [Symbol.toStringTag]: { value: "ReadableStream AsyncIterator", configurable: true },
  });
  const END = {};

  function readableStreamFromIterable(asyncIterable) {
    if (!isObject(asyncIterable)) throw new TypeError("ReadableStream.from expects an iterable or async iterable object");
    let method = asyncIterable === null || asyncIterable === undefined ? undefined : asyncIterable[Symbol.asyncIterator];
    let iterator, nextMethod;
    if (method === undefined || method === null) {
      const syncMethod = asyncIterable === null || asyncIterable === undefined ? undefined : asyncIterable[Symbol.iterator];
      if (syncMethod === undefined || syncMethod === null) throw new TypeError("ReadableStream.from expects an iterable or async iterable");
      if (typeof syncMethod !== "function") throw new TypeError("@@iterator is not callable");
      const syncIterator = syncMethod.call(asyncIterable);
      if (!isObject(syncIterator)) throw new TypeError("the iterator is not an object");
      const syncNext = syncIterator.next;
      // CreateAsyncFromSyncIterator
      iterator = {
        next() {
          let result;
          try { result = syncNext.call(syncIterator); } catch (e) { return rejectedWith(e); }
          if (!isObject(result)) return rejectedWith(new TypeError("the iterator result is not an object"));
          let done, value;
          try { done = Boolean(result.done); value = result.value; } catch (e) { return rejectedWith(e); }
          let vp;
          try { vp = resolvedWith(value); } catch (e) { return rejectedWith(e); }
          return transformPromise(vp, (v) => ({ value: v, done }));
        },
        return(v) {
          let ret;
          try { ret = syncIterator.return; } catch (e) { return rejectedWith(e); }
          if (ret === undefined || ret === null) return resolvedWith({ value: v, done: true });
          let result;
          try { result = ret.call(syncIterator, v); } catch (e) { return rejectedWith(e); }
          if (!isObject(result)) return rejectedWith(new TypeError("the iterator result is not an object"));
          return transformPromise(resolvedWith(result.value), (x) => ({ value: x, done: Boolean(result.done) }));
        },
      };
      nextMethod = iterator.next;
    } else {
      if (typeof method !== "function") throw new TypeError("@@asyncIterator is not callable");
      iterator = method.call(asyncIterable);
      if (!isObject(iterator)) throw new TypeError("the async iterator is not an object");
      nextMethod = iterator.next;
    }
    let stream;
    const pullAlgorithm = () => {
      let nextResult;
      try { nextResult = nextMethod.call(iterator); } catch (e) { return rejectedWith(e); }
      return transformPromise(resolvedWith(nextResult), (r) => {
        if (!isObject(r)) throw new TypeError("the iterator result is not an object");
        if (r.done) readableStreamDefaultControllerClose(stream.controller);
        else readableStreamDefaultControllerEnqueue(stream.controller, r.value);
      });
    };
    const cancelAlgorithm = (reason) => {
      let returnMethod;
      try {
        returnMethod = iterator.return;
      } catch (e) {
        return rejectedWith(e);
      }
      if (returnMethod === undefined || returnMethod === null) return resolvedWith(undefined);
      if (typeof returnMethod !== "function") return rejectedWith(new TypeError("the iterator's return is not callable"));
      let returnResult;
      try { returnResult = returnMethod.call(iterator, reason); } catch (e) { return rejectedWith(e); }
      return transformPromise(resolvedWith(returnResult), (r) => {
        if (!isObject(r)) throw new TypeError("the iterator's return() result is not an object");
      });
    };
    stream = createReadableStream(() => undefined, pullAlgorithm, cancelAlgorithm, 0);
    return stream;
  }

  // =====================================================================
  // Writable streams
  // =====================================================================
  let wsMaybe, wsOf;
  class WritableStream {
    #s;
    constructor(underlyingSink = undefined, strategy = undefined) {
      if (underlyingSink === INTERNAL) { this.#s = strategy; strategy.obj = this; return; }
      if (underlyingSink !== undefined && !isObject(underlyingSink)) throw new TypeError("the underlying sink must be an object");
      if (underlyingSink === undefined) underlyingSink = null;
      const st = strategyDict(strategy);
      const sink = underlyingSink === null ? {} : underlyingSink;
      const dict = {
        abort: callbackMember(sink, "abort", "underlyingSink"),
        close: callbackMember(sink, "close", "underlyingSink"),
        start: callbackMember(sink, "start", "underlyingSink"),
        type: sink.type,
        write: callbackMember(sink, "write", "underlyingSink"),
      };
      if (dict.type !== undefined) throw new RangeError("a WritableStream's underlying sink cannot have a type");
      const s = initializeWritableStream();
      this.#s = s;
      s.obj = this;
      const size = extractSizeAlgorithm(st);
      const hwm = extractHighWaterMark(st, 1);
      setUpWritableStreamDefaultControllerFromUnderlyingSink(s, underlyingSink, dict, hwm, size);
    }
    static {
      wsMaybe = (o) => { try { return o.#s; } catch { return undefined; } };
      wsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a WritableStream"); } };
    }
    get locked() { return isWritableStreamLocked(wsOf(this)); }
    abort(reason = undefined) {
      const s = wsMaybe(this);
      if (s === undefined) return rejectedWith(new TypeError("not a WritableStream"));
      if (isWritableStreamLocked(s)) return rejectedWith(new TypeError("cannot abort a locked stream"));
      return writableStreamAbort(s, reason);
    }
    close() {
      const s = wsMaybe(this);
      if (s === undefined) return rejectedWith(new TypeError("not a WritableStream"));
      if (isWritableStreamLocked(s)) return rejectedWith(new TypeError("cannot close a locked stream"));
      if (writableStreamCloseQueuedOrInFlight(s)) return rejectedWith(new TypeError("the stream is already closing"));
      return writableStreamClose(s);
    }
    getWriter() { return acquireWritableStreamDefaultWriter(wsOf(this)).obj; }
  }
  const newWS = (s) => new WritableStream(INTERNAL, s);
  function initializeWritableStream() {
    return {
      state: "writable", storedError: undefined, writer: undefined, controller: undefined,
      inFlightWriteRequest: undefined, closeRequest: undefined, inFlightCloseRequest: undefined,
      pendingAbortRequest: undefined, writeRequests: new Queue(), backpressure: false, obj: undefined,
    };
  }
  function createWritableStream(startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm = 1, sizeAlgorithm = () => 1) {
    const s = initializeWritableStream();
    newWS(s);
    const c = newWritableControllerRecord();
    setUpWritableStreamDefaultController(s, c, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm, sizeAlgorithm);
    return s;
  }
  function isWritableStreamLocked(s) { return s.writer !== undefined; }
  function writableStreamAbort(s, reason) {
    if (s.state === "closed" || s.state === "errored") return resolvedWith(undefined);
    s.controller.abortController.abort(reason);
    const state = s.state;
    if (state === "closed" || state === "errored") return resolvedWith(undefined);
    if (s.pendingAbortRequest !== undefined) return s.pendingAbortRequest.promise.promise;
    let wasAlreadyErroring = false;
    if (state === "erroring") { wasAlreadyErroring = true; reason = undefined; }
    const promise = newPromise();
    s.pendingAbortRequest = { promise, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) writableStreamStartErroring(s, reason);
    return promise.promise;
  }
  function writableStreamClose(s) {
    const state = s.state;
    if (state === "closed" || state === "errored") return rejectedWith(new TypeError("the stream is closed or errored"));
    const promise = newPromise();
    s.closeRequest = promise;
    const writer = s.writer;
    if (writer !== undefined && s.backpressure && state === "writable") resolvePromise(writer.ready, undefined);
    writableStreamDefaultControllerClose(s.controller);
    return promise.promise;
  }
  function writableStreamAddWriteRequest(s) {
    const promise = newPromise();
    s.writeRequests.push(promise);
    return promise.promise;
  }
  function writableStreamCloseQueuedOrInFlight(s) { return s.closeRequest !== undefined || s.inFlightCloseRequest !== undefined; }
  function writableStreamDealWithRejection(s, error) {
    if (s.state === "writable") { writableStreamStartErroring(s, error); return; }
    writableStreamFinishErroring(s);
  }
  function writableStreamFinishErroring(s) {
    s.state = "errored";
    s.controller.errorSteps();
    const storedError = s.storedError;
    for (const r of s.writeRequests.toArray()) rejectPromise(r, storedError);
    s.writeRequests = new Queue();
    if (s.pendingAbortRequest === undefined) { writableStreamRejectCloseAndClosedPromiseIfNeeded(s); return; }
    const abortRequest = s.pendingAbortRequest;
    s.pendingAbortRequest = undefined;
    if (abortRequest.wasAlreadyErroring) {
      rejectPromise(abortRequest.promise, storedError);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(s);
      return;
    }
    const promise = s.controller.abortSteps(abortRequest.reason);
    upon(promise, () => {
      resolvePromise(abortRequest.promise, undefined);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(s);
    }, (reason) => {
      rejectPromise(abortRequest.promise, reason);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(s);
    });
  }
  function writableStreamFinishInFlightClose(s) {
    resolvePromise(s.inFlightCloseRequest, undefined);
    s.inFlightCloseRequest = undefined;
    if (s.state === "erroring") {
      s.storedError = undefined;
      if (s.pendingAbortRequest !== undefined) {
        resolvePromise(s.pendingAbortRequest.promise, undefined);
        s.pendingAbortRequest = undefined;
      }
    }
    s.state = "closed";
    if (s.writer !== undefined) resolvePromise(s.writer.closed, undefined);
  }
  function writableStreamFinishInFlightCloseWithError(s, error) {
    rejectPromise(s.inFlightCloseRequest, error);
    s.inFlightCloseRequest = undefined;
    if (s.pendingAbortRequest !== undefined) {
      rejectPromise(s.pendingAbortRequest.promise, error);
      s.pendingAbortRequest = undefined;
    }
    writableStreamDealWithRejection(s, error);
  }
  function writableStreamFinishInFlightWrite(s) {
    resolvePromise(s.inFlightWriteRequest, undefined);
    s.inFlightWriteRequest = undefined;
  }
  function writableStreamFinishInFlightWriteWithError(s, error) {
    rejectPromise(s.inFlightWriteRequest, error);
    s.inFlightWriteRequest = undefined;
    writableStreamDealWithRejection(s, error);
  }
  function writableStreamHasOperationMarkedInFlight(s) { return s.inFlightWriteRequest !== undefined || s.inFlightCloseRequest !== undefined; }
  function writableStreamMarkCloseRequestInFlight(s) { s.inFlightCloseRequest = s.closeRequest; s.closeRequest = undefined; }
  function writableStreamMarkFirstWriteRequestInFlight(s) { s.inFlightWriteRequest = s.writeRequests.shift(); }
  function writableStreamRejectCloseAndClosedPromiseIfNeeded(s) {
    if (s.closeRequest !== undefined) {
      rejectPromise(s.closeRequest, s.storedError);
      s.closeRequest = undefined;
    }
    const writer = s.writer;
    if (writer !== undefined) {
      rejectPromise(writer.closed, s.storedError);
      setHandled(writer.closed.promise);
    }
  }
  function writableStreamStartErroring(s, reason) {
    const c = s.controller;
    s.state = "erroring";
    s.storedError = reason;
    const writer = s.writer;
    if (writer !== undefined) writableStreamDefaultWriterEnsureReadyPromiseRejected(writer, reason);
    if (!writableStreamHasOperationMarkedInFlight(s) && c.started) writableStreamFinishErroring(s);
  }
  function writableStreamUpdateBackpressure(s, backpressure) {
    const writer = s.writer;
    if (writer !== undefined && backpressure !== s.backpressure) {
      if (backpressure) writer.ready = newPromise();
      else resolvePromise(writer.ready, undefined);
    }
    s.backpressure = backpressure;
  }

  // ---- writer ----
  let wrMaybe;
  class WritableStreamDefaultWriter {
    #s;
    constructor(stream) {
      if (stream === INTERNAL) { this.#s = arguments[1]; this.#s.obj = this; return; }
      const s = wsOf(stream);
      const w = newWriterRecord();
      this.#s = w;
      w.obj = this;
      setUpWritableStreamDefaultWriter(w, s);
    }
    static { wrMaybe = (o) => { try { return o.#s; } catch { return undefined; } }; }
    get closed() {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      return w.closed.promise;
    }
    get desiredSize() {
      const w = wrMaybe(this);
      if (w === undefined) throw new TypeError("not a WritableStreamDefaultWriter");
      if (w.stream === undefined) throw new TypeError("the writer has been released");
      return writableStreamDefaultWriterGetDesiredSize(w);
    }
    get ready() {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      return w.ready.promise;
    }
    abort(reason = undefined) {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      if (w.stream === undefined) return rejectedWith(new TypeError("the writer has been released"));
      return writableStreamAbort(w.stream, reason);
    }
    close() {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      const s = w.stream;
      if (s === undefined) return rejectedWith(new TypeError("the writer has been released"));
      if (writableStreamCloseQueuedOrInFlight(s)) return rejectedWith(new TypeError("the stream is already closing"));
      return writableStreamClose(s);
    }
    releaseLock() {
      const w = wrMaybe(this);
      if (w === undefined) throw new TypeError("not a WritableStreamDefaultWriter");
      if (w.stream === undefined) return;
      writableStreamDefaultWriterRelease(w);
    }
    write(chunk = undefined) {
      const w = wrMaybe(this);
      if (w === undefined) return rejectedWith(new TypeError("not a WritableStreamDefaultWriter"));
      if (w.stream === undefined) return rejectedWith(new TypeError("the writer has been released"));
      return writableStreamDefaultWriterWrite(w, chunk);
    }
  }
  function newWriterRecord() { return { stream: undefined, ready: undefined, closed: undefined, obj: undefined }; }
  function acquireWritableStreamDefaultWriter(s) {
    const w = newWriterRecord();
    setUpWritableStreamDefaultWriter(w, s);
    new WritableStreamDefaultWriter(INTERNAL, w);
    return w;
  }
  function setUpWritableStreamDefaultWriter(w, s) {
    if (isWritableStreamLocked(s)) throw new TypeError("the stream is locked to another writer");
    w.stream = s;
    s.writer = w;
    const state = s.state;
    if (state === "writable") {
      if (!writableStreamCloseQueuedOrInFlight(s) && s.backpressure) w.ready = newPromise();
      else w.ready = resolvedRecord(undefined);
      w.closed = newPromise();
    } else if (state === "erroring") {
      w.ready = rejectedRecord(s.storedError);
      setHandled(w.ready.promise);
      w.closed = newPromise();
    } else if (state === "closed") {
      w.ready = resolvedRecord(undefined);
      w.closed = resolvedRecord(undefined);
    } else {
      w.ready = rejectedRecord(s.storedError);
      setHandled(w.ready.promise);
      w.closed = rejectedRecord(s.storedError);
      setHandled(w.closed.promise);
    }
  }
  function writableStreamDefaultWriterCloseWithErrorPropagation(w) {
    const s = w.stream;
    const state = s.state;
    if (writableStreamCloseQueuedOrInFlight(s) || state === "closed") return resolvedWith(undefined);
    if (state === "errored") return rejectedWith(s.storedError);
    return writableStreamClose(s);
  }
  function writableStreamDefaultWriterEnsureClosedPromiseRejected(w, error) {
    if (w.closed.state === "pending") rejectPromise(w.closed, error);
    else w.closed = rejectedRecord(error);
    setHandled(w.closed.promise);
  }
  function writableStreamDefaultWriterEnsureReadyPromiseRejected(w, error) {
    if (w.ready.state === "pending") rejectPromise(w.ready, error);
    else w.ready = rejectedRecord(error);
    setHandled(w.ready.promise);
  }
  function writableStreamDefaultWriterGetDesiredSize(w) {
    const s = w.stream;
    const state = s.state;
    if (state === "errored" || state === "erroring") return null;
    if (state === "closed") return 0;
    return writableStreamDefaultControllerGetDesiredSize(s.controller);
  }
  function writableStreamDefaultWriterRelease(w) {
    const s = w.stream;
    const releasedError = new TypeError("the writer was released");
    writableStreamDefaultWriterEnsureReadyPromiseRejected(w, releasedError);
    writableStreamDefaultWriterEnsureClosedPromiseRejected(w, releasedError);
    s.writer = undefined;
    w.stream = undefined;
  }
  function writableStreamDefaultWriterWrite(w, chunk) {
    const s = w.stream;
    const c = s.controller;
    const chunkSize = writableStreamDefaultControllerGetChunkSize(c, chunk);
    if (s !== w.stream) return rejectedWith(new TypeError("the writer was released"));
    const state = s.state;
    if (state === "errored") return rejectedWith(s.storedError);
    if (writableStreamCloseQueuedOrInFlight(s) || state === "closed") return rejectedWith(new TypeError("the stream is closing or closed"));
    if (state === "erroring") return rejectedWith(s.storedError);
    const promise = writableStreamAddWriteRequest(s);
    writableStreamDefaultControllerWrite(c, chunk, chunkSize);
    return promise;
  }

  // ---- writable controller ----
  let wsdc;
  const CLOSE_SENTINEL = {};
  class WritableStreamDefaultController {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { wsdc = (o) => { try { return o.#s; } catch { throw new TypeError("not a WritableStreamDefaultController"); } }; }
    get signal() { return wsdc(this).abortController.signal; }
    error(e = undefined) {
      const c = wsdc(this);
      if (c.stream.state !== "writable") return;
      writableStreamDefaultControllerError(c, e);
    }
  }
  function newWritableControllerRecord() {
    const c = {
      stream: undefined, queue: undefined, queueTotalSize: 0, abortController: undefined, started: false,
      strategySizeAlgorithm: undefined, strategyHWM: 1, writeAlgorithm: undefined, closeAlgorithm: undefined,
      abortAlgorithm: undefined, obj: undefined,
      abortSteps: (reason) => {
        const result = c.abortAlgorithm(reason);
        writableStreamDefaultControllerClearAlgorithms(c);
        return result;
      },
      errorSteps: () => resetQueue(c),
    };
    new WritableStreamDefaultController(INTERNAL, c);
    return c;
  }
  function setUpWritableStreamDefaultController(s, c, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm, sizeAlgorithm) {
    c.stream = s;
    s.controller = c;
    resetQueue(c);
    c.abortController = new AbortControllerCtor();
    c.started = false;
    c.strategySizeAlgorithm = sizeAlgorithm;
    c.strategyHWM = hwm;
    c.writeAlgorithm = writeAlgorithm;
    c.closeAlgorithm = closeAlgorithm;
    c.abortAlgorithm = abortAlgorithm;
    writableStreamUpdateBackpressure(s, writableStreamDefaultControllerGetBackpressure(c));
    const startResult = startAlgorithm();
    upon(resolvedWith(startResult), () => {
      c.started = true;
      writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
    }, (r) => {
      c.started = true;
      writableStreamDealWithRejection(s, r);
    });
  }
  function setUpWritableStreamDefaultControllerFromUnderlyingSink(s, sink, dict, hwm, sizeAlgorithm) {
    const c = newWritableControllerRecord();
    let startAlgorithm = () => undefined;
    let writeAlgorithm = () => resolvedWith(undefined);
    let closeAlgorithm = () => resolvedWith(undefined);
    let abortAlgorithm = () => resolvedWith(undefined);
    if (dict.start !== undefined) startAlgorithm = () => apply(dict.start, sink, [c.obj]);
    if (dict.write !== undefined) writeAlgorithm = (chunk) => promiseCall(dict.write, sink, [chunk, c.obj]);
    if (dict.close !== undefined) closeAlgorithm = () => promiseCall(dict.close, sink, []);
    if (dict.abort !== undefined) abortAlgorithm = (reason) => promiseCall(dict.abort, sink, [reason]);
    setUpWritableStreamDefaultController(s, c, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, hwm, sizeAlgorithm);
  }
  function writableStreamDefaultControllerAdvanceQueueIfNeeded(c) {
    const s = c.stream;
    if (!c.started) return;
    if (s.inFlightWriteRequest !== undefined) return;
    const state = s.state;
    if (state === "erroring") { writableStreamFinishErroring(s); return; }
    if (c.queue.length === 0) return;
    const value = peekQueueValue(c);
    if (value === CLOSE_SENTINEL) writableStreamDefaultControllerProcessClose(c);
    else writableStreamDefaultControllerProcessWrite(c, value);
  }
  function writableStreamDefaultControllerClearAlgorithms(c) {
    c.writeAlgorithm = undefined;
    c.closeAlgorithm = undefined;
    c.abortAlgorithm = undefined;
    c.strategySizeAlgorithm = undefined;
  }
  function writableStreamDefaultControllerClose(c) {
    enqueueValueWithSize(c, CLOSE_SENTINEL, 0);
    writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
  }
  function writableStreamDefaultControllerError(c, error) {
    writableStreamDefaultControllerClearAlgorithms(c);
    writableStreamStartErroring(c.stream, error);
  }
  function writableStreamDefaultControllerErrorIfNeeded(c, error) {
    if (c.stream.state === "writable") writableStreamDefaultControllerError(c, error);
  }
  function writableStreamDefaultControllerGetBackpressure(c) { return writableStreamDefaultControllerGetDesiredSize(c) <= 0; }
  function writableStreamDefaultControllerGetChunkSize(c, chunk) {
    if (c.strategySizeAlgorithm === undefined) return 1;
    try {
      return c.strategySizeAlgorithm(chunk);
    } catch (e) {
      writableStreamDefaultControllerErrorIfNeeded(c, e);
      return 1;
    }
  }
  function writableStreamDefaultControllerGetDesiredSize(c) { return c.strategyHWM - c.queueTotalSize; }
  function writableStreamDefaultControllerProcessClose(c) {
    const s = c.stream;
    writableStreamMarkCloseRequestInFlight(s);
    dequeueValue(c);
    const sinkClosePromise = c.closeAlgorithm();
    writableStreamDefaultControllerClearAlgorithms(c);
    upon(sinkClosePromise, () => writableStreamFinishInFlightClose(s), (reason) => writableStreamFinishInFlightCloseWithError(s, reason));
  }
  function writableStreamDefaultControllerProcessWrite(c, chunk) {
    const s = c.stream;
    writableStreamMarkFirstWriteRequestInFlight(s);
    const sinkWritePromise = c.writeAlgorithm(chunk);
    upon(sinkWritePromise, () => {
      writableStreamFinishInFlightWrite(s);
      const state = s.state;
      dequeueValue(c);
      if (!writableStreamCloseQueuedOrInFlight(s) && state === "writable") {
        writableStreamUpdateBackpressure(s, writableStreamDefaultControllerGetBackpressure(c));
      }
      writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
    }, (reason) => {
      if (s.state === "writable") writableStreamDefaultControllerClearAlgorithms(c);
      writableStreamFinishInFlightWriteWithError(s, reason);
    });
  }
  function writableStreamDefaultControllerWrite(c, chunk, chunkSize) {
    try {
      enqueueValueWithSize(c, chunk, chunkSize);
    } catch (e) {
      writableStreamDefaultControllerErrorIfNeeded(c, e);
      return;
    }
    const s = c.stream;
    if (!writableStreamCloseQueuedOrInFlight(s) && s.state === "writable") {
      writableStreamUpdateBackpressure(s, writableStreamDefaultControllerGetBackpressure(c));
    }
    writableStreamDefaultControllerAdvanceQueueIfNeeded(c);
  }

  // =====================================================================
  // Transform streams
  // =====================================================================
  let tsOf;
  class TransformStream {
    #s;
    constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
      if (transformer !== undefined && !isObject(transformer)) throw new TypeError("the transformer must be an object");
      if (transformer === undefined) transformer = null;
      const ws = strategyDict(writableStrategy);
      const rs_ = strategyDict(readableStrategy);
      const t = transformer === null ? {} : transformer;
      const dict = {
        cancel: callbackMember(t, "cancel", "transformer"),
        flush: callbackMember(t, "flush", "transformer"),
        readableType: t.readableType,
        start: callbackMember(t, "start", "transformer"),
        transform: callbackMember(t, "transform", "transformer"),
        writableType: t.writableType,
      };
      if (dict.readableType !== undefined) throw new RangeError("a transformer cannot have a readableType");
      if (dict.writableType !== undefined) throw new RangeError("a transformer cannot have a writableType");
      const readableHWM = extractHighWaterMark(rs_, 0);
      const readableSize = extractSizeAlgorithm(rs_);
      const writableHWM = extractHighWaterMark(ws, 1);
      const writableSize = extractSizeAlgorithm(ws);
      const startPromise = newPromise();
      const s = { obj: this };
      this.#s = s;
      initializeTransformStream(s, startPromise.promise, writableHWM, writableSize, readableHWM, readableSize);
      setUpTransformStreamDefaultControllerFromTransformer(s, transformer, dict);
      if (dict.start !== undefined) resolvePromise(startPromise, apply(dict.start, transformer, [s.controller.obj]));
      else resolvePromise(startPromise, undefined);
    }
    static { tsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a TransformStream"); } }; }
    get readable() { return tsOf(this).readable.obj; }
    get writable() { return tsOf(this).writable.obj; }
  }
  function initializeTransformStream(s, startPromise, writableHWM, writableSize, readableHWM, readableSize) {
    const startAlgorithm = () => startPromise;
    s.writable = createWritableStream(startAlgorithm,
      (chunk) => transformStreamDefaultSinkWriteAlgorithm(s, chunk),
      () => transformStreamDefaultSinkCloseAlgorithm(s),
      (reason) => transformStreamDefaultSinkAbortAlgorithm(s, reason),
      writableHWM, writableSize);
    s.readable = createReadableStream(startAlgorithm,
      () => transformStreamDefaultSourcePullAlgorithm(s),
      (reason) => transformStreamDefaultSourceCancelAlgorithm(s, reason),
      readableHWM, readableSize);
    s.backpressure = undefined;
    s.backpressureChangePromise = undefined;
    transformStreamSetBackpressure(s, true);
    s.controller = undefined;
  }
  function transformStreamError(s, e) {
    readableStreamDefaultControllerError(s.readable.controller, e);
    transformStreamErrorWritableAndUnblockWrite(s, e);
  }
  function transformStreamErrorWritableAndUnblockWrite(s, e) {
    transformStreamDefaultControllerClearAlgorithms(s.controller);
    writableStreamDefaultControllerErrorIfNeeded(s.writable.controller, e);
    transformStreamUnblockWrite(s);
  }
  function transformStreamUnblockWrite(s) { if (s.backpressure) transformStreamSetBackpressure(s, false); }
  function transformStreamSetBackpressure(s, backpressure) {
    if (s.backpressureChangePromise !== undefined) resolvePromise(s.backpressureChangePromise, undefined);
    s.backpressureChangePromise = newPromise();
    s.backpressure = backpressure;
  }
  let tsdc;
  class TransformStreamDefaultController {
    #s;
    constructor(token, rec) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#s = rec;
      rec.obj = this;
    }
    static { tsdc = (o) => { try { return o.#s; } catch { throw new TypeError("not a TransformStreamDefaultController"); } }; }
    get desiredSize() { return readableStreamDefaultControllerGetDesiredSize(tsdc(this).stream.readable.controller); }
    enqueue(chunk = undefined) { transformStreamDefaultControllerEnqueue(tsdc(this), chunk); }
    error(reason = undefined) { transformStreamError(tsdc(this).stream, reason); }
    terminate() { transformStreamDefaultControllerTerminate(tsdc(this)); }
  }
  function setUpTransformStreamDefaultController(s, c, transformAlgorithm, flushAlgorithm, cancelAlgorithm) {
    c.stream = s;
    s.controller = c;
    c.transformAlgorithm = transformAlgorithm;
    c.flushAlgorithm = flushAlgorithm;
    c.cancelAlgorithm = cancelAlgorithm;
    c.finishPromise = undefined;
  }
  function setUpTransformStreamDefaultControllerFromTransformer(s, transformer, dict) {
    const c = { stream: undefined, transformAlgorithm: undefined, flushAlgorithm: undefined, cancelAlgorithm: undefined, finishPromise: undefined, obj: undefined };
    new TransformStreamDefaultController(INTERNAL, c);
    let transformAlgorithm = (chunk) => {
      try {
        transformStreamDefaultControllerEnqueue(c, chunk);
        return resolvedWith(undefined);
      } catch (e) {
        return rejectedWith(e);
      }
    };
    let flushAlgorithm = () => resolvedWith(undefined);
    let cancelAlgorithm = () => resolvedWith(undefined);
    if (dict.transform !== undefined) transformAlgorithm = (chunk) => promiseCall(dict.transform, transformer, [chunk, c.obj]);
    if (dict.flush !== undefined) flushAlgorithm = () => promiseCall(dict.flush, transformer, [c.obj]);
    if (dict.cancel !== undefined) cancelAlgorithm = (reason) => promiseCall(dict.cancel, transformer, [reason]);
    setUpTransformStreamDefaultController(s, c, transformAlgorithm, flushAlgorithm, cancelAlgorithm);
  }
  function transformStreamDefaultControllerClearAlgorithms(c) {
    c.transformAlgorithm = undefined;
    c.flushAlgorithm = undefined;
    c.cancelAlgorithm = undefined;
  }
  function transformStreamDefaultControllerEnqueue(c, chunk) {
    const s = c.stream;
    const rc = s.readable.controller;
    if (!readableStreamDefaultControllerCanCloseOrEnqueue(rc)) throw new TypeError("the readable side is closed or errored");
    try {
      readableStreamDefaultControllerEnqueue(rc, chunk);
    } catch (e) {
      transformStreamErrorWritableAndUnblockWrite(s, e);
      throw s.readable.storedError;
    }
    const backpressure = readableStreamDefaultControllerHasBackpressure(rc);
    if (backpressure !== s.backpressure) transformStreamSetBackpressure(s, true);
  }
  function transformStreamDefaultControllerPerformTransform(c, chunk) {
    const transformPromiseValue = c.transformAlgorithm(chunk);
    return transformPromise(transformPromiseValue, undefined, (r) => {
      transformStreamError(c.stream, r);
      throw r;
    });
  }
  function transformStreamDefaultControllerTerminate(c) {
    const s = c.stream;
    readableStreamDefaultControllerClose(s.readable.controller);
    transformStreamErrorWritableAndUnblockWrite(s, new TypeError("the transform stream was terminated"));
  }
  function transformStreamDefaultSinkWriteAlgorithm(s, chunk) {
    const c = s.controller;
    if (s.backpressure) {
      return transformPromise(s.backpressureChangePromise.promise, () => {
        const w = s.writable;
        if (w.state === "erroring") throw w.storedError;
        return transformStreamDefaultControllerPerformTransform(c, chunk);
      });
    }
    return transformStreamDefaultControllerPerformTransform(c, chunk);
  }
  function transformStreamDefaultSinkAbortAlgorithm(s, reason) {
    const c = s.controller;
    if (c.finishPromise !== undefined) return c.finishPromise.promise;
    const readable = s.readable;
    c.finishPromise = newPromise();
    const cancelPromise = c.cancelAlgorithm(reason);
    transformStreamDefaultControllerClearAlgorithms(c);
    upon(cancelPromise, () => {
      if (readable.state === "errored") rejectPromise(c.finishPromise, readable.storedError);
      else {
        readableStreamDefaultControllerError(readable.controller, reason);
        resolvePromise(c.finishPromise, undefined);
      }
    }, (r) => {
      readableStreamDefaultControllerError(readable.controller, r);
      rejectPromise(c.finishPromise, r);
    });
    return c.finishPromise.promise;
  }
  function transformStreamDefaultSinkCloseAlgorithm(s) {
    const c = s.controller;
    if (c.finishPromise !== undefined) return c.finishPromise.promise;
    const readable = s.readable;
    c.finishPromise = newPromise();
    const flushPromise = c.flushAlgorithm();
    transformStreamDefaultControllerClearAlgorithms(c);
    upon(flushPromise, () => {
      if (readable.state === "errored") rejectPromise(c.finishPromise, readable.storedError);
      else {
        readableStreamDefaultControllerClose(readable.controller);
        resolvePromise(c.finishPromise, undefined);
      }
    }, (r) => {
      readableStreamDefaultControllerError(readable.controller, r);
      rejectPromise(c.finishPromise, r);
    });
    return c.finishPromise.promise;
  }
  function transformStreamDefaultSourceCancelAlgorithm(s, reason) {
    const c = s.controller;
    if (c.finishPromise !== undefined) return c.finishPromise.promise;
    const writable = s.writable;
    c.finishPromise = newPromise();
    const cancelPromise = c.cancelAlgorithm(reason);
    transformStreamDefaultControllerClearAlgorithms(c);
    upon(cancelPromise, () => {
      if (writable.state === "errored") rejectPromise(c.finishPromise, writable.storedError);
      else {
        writableStreamDefaultControllerErrorIfNeeded(writable.controller, reason);
        transformStreamUnblockWrite(s);
        resolvePromise(c.finishPromise, undefined);
      }
    }, (r) => {
      writableStreamDefaultControllerErrorIfNeeded(writable.controller, r);
      transformStreamUnblockWrite(s);
      rejectPromise(c.finishPromise, r);
    });
    return c.finishPromise.promise;
  }
  function transformStreamDefaultSourcePullAlgorithm(s) {
    transformStreamSetBackpressure(s, false);
    return s.backpressureChangePromise.promise;
  }

  // =====================================================================
  // Queuing strategies
  // =====================================================================
  function strategyInit(init, what) {
    if (init === undefined || init === null) throw new TypeError(`${what} needs an object with a highWaterMark`);
    if (!isObject(init)) throw new TypeError(`${what}: the argument must be an object`);
    const hwm = init.highWaterMark;
    if (hwm === undefined) throw new TypeError(`${what} needs a highWaterMark`);
    return +hwm;
  }
  const byteLengthSize = { size(chunk) { return chunk.byteLength; } }.size;
  const countSize = { size() { return 1; } }.size;
  Object.defineProperty(byteLengthSize, "name", { value: "size" });
  Object.defineProperty(countSize, "name", { value: "size" });
  let blqsHwm, cqsHwm;
  class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = strategyInit(init, "ByteLengthQueuingStrategy"); }
    static { blqsHwm = (o) => { try { return o.#hwm; } catch { throw new TypeError("not a ByteLengthQueuingStrategy"); } }; }
    get highWaterMark() { return blqsHwm(this); }
    get size() { blqsHwm(this); return byteLengthSize; }
  }
  class CountQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = strategyInit(init, "CountQueuingStrategy"); }
    static { cqsHwm = (o) => { try { return o.#hwm; } catch { throw new TypeError("not a CountQueuingStrategy"); } }; }
    get highWaterMark() { return cqsHwm(this); }
    get size() { cqsHwm(this); return countSize; }
  }

  // =====================================================================
  // Encoding streams (Encoding standard)
  // =====================================================================
  const encoder = new TextEncoder();
  let tesOf;
  class TextEncoderStream {
    #s;
    constructor() {
      let pending = null;
      const ts = new TransformStream({
        transform(chunk, controller) {
          let s = String(chunk);
          if (pending !== null) { s = pending + s; pending = null; }
          if (s.length > 0) {
            const last = s.charCodeAt(s.length - 1);
            if (last >= 0xd800 && last <= 0xdbff) { pending = s[s.length - 1]; s = s.slice(0, -1); }
          }
          if (s.length > 0) controller.enqueue(encoder.encode(s));
        },
        flush(controller) {
          if (pending !== null) controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
        },
      });
      this.#s = ts;
    }
    static { tesOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a TextEncoderStream"); } }; }
    get encoding() { tesOf(this); return "utf-8"; }
    get readable() { return tesOf(this).readable; }
    get writable() { return tesOf(this).writable; }
  }
  let tdsOf;
  class TextDecoderStream {
    #s;
    constructor(label = "utf-8", options = undefined) {
      const o = dictionary(options, "TextDecoderStream options");
      const fatal = Boolean(o.fatal);
      const ignoreBOM = Boolean(o.ignoreBOM);
      const decoder = new TextDecoder(label, { fatal, ignoreBOM });
      const utf8 = decoder.encoding === "utf-8";
      // boa's TextDecoder has no streaming mode: for UTF-8, an incomplete sequence at
      // a chunk's end waits for the next chunk; other encodings decode chunk by chunk.
      let held = new Uint8Array(0);
      let first = true;
      const decode = (bytes, last) => {
        let data = bytes;
        if (held.length > 0) {
          data = new Uint8Array(held.length + bytes.length);
          data.set(held);
          data.set(bytes, held.length);
        }
        let cut = data.length;
        if (utf8 && !last) cut = completeUtf8(data);
        held = data.slice(cut);
        let part = data.subarray(0, cut);
        if (first && part.length > 0) {
          first = false;
          if (utf8 && !ignoreBOM && part.length >= 3 && part[0] === 0xef && part[1] === 0xbb && part[2] === 0xbf) part = part.subarray(3);
        }
        return part.length === 0 ? "" : decoder.decode(part);
      };
      const ts = new TransformStream({
        transform(chunk, controller) {
          if (!isArrayBufferView(chunk) && !(chunk instanceof ArrayBuffer)) throw new TypeError("TextDecoderStream expects ArrayBuffer or ArrayBufferView chunks");
          const bytes = chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : new Uint8Array(bufferOf(chunk), chunk.byteOffset, chunk.byteLength);
          const s = decode(bytes, false);
          if (s.length > 0) controller.enqueue(s);
        },
        flush(controller) {
          if (held.length === 0) return;
          if (fatal) throw new TypeError("The encoded data was not valid.");
          const s = decode(new Uint8Array(0), true);
          if (s.length > 0) controller.enqueue(s);
        },
      });
      this.#s = { ts, decoder, fatal, ignoreBOM };
    }
    static { tdsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a TextDecoderStream"); } }; }
    get encoding() { return tdsOf(this).decoder.encoding; }
    get fatal() { return tdsOf(this).fatal; }
    get ignoreBOM() { return tdsOf(this).ignoreBOM; }
    get readable() { return tdsOf(this).ts.readable; }
    get writable() { return tdsOf(this).ts.writable; }
  }
  // The length of the longest prefix of `b` that does not end inside a UTF-8 sequence.
  function completeUtf8(b) {
    const n = b.length;
    for (let back = 1; back <= 3 && back <= n; back++) {
      const x = b[n - back];
      if ((x & 0xc0) === 0x80) continue;
      const need = x >= 0xf0 ? 4 : x >= 0xe0 ? 3 : x >= 0xc0 ? 2 : 1;
      return need > back ? n - back : n;
    }
    return n;
  }

  // =====================================================================
  // Compression streams (Compression Streams standard); the codec is native.
  // =====================================================================
  const FORMATS = ["deflate", "deflate-raw", "gzip"];
  function codecPair(format, compress, what) {
    format = String(format);
    if (!FORMATS.includes(format)) throw new TypeError(`${what}: unsupported format '${format}'`);
    const id = nativeHost.codecOpen(format, compress);
    return new TransformStream({
      transform(chunk, controller) {
        if (!isArrayBufferView(chunk) && !(chunk instanceof ArrayBuffer)) throw new TypeError(`${what} expects ArrayBuffer or ArrayBufferView chunks`);
        const bytes = chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : new Uint8Array(bufferOf(chunk), chunk.byteOffset, chunk.byteLength);
        const out = nativeHost.codecPush(id, bytes, false);
        if (out.byteLength > 0) controller.enqueue(out);
      },
      flush(controller) {
        const out = nativeHost.codecPush(id, null, true);
        if (out.byteLength > 0) controller.enqueue(out);
      },
    });
  }
  let csOf, dsOf;
  class CompressionStream {
    #s;
    constructor(format) { this.#s = codecPair(format, true, "CompressionStream"); }
    static { csOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a CompressionStream"); } }; }
    get readable() { return csOf(this).readable; }
    get writable() { return csOf(this).writable; }
  }
  class DecompressionStream {
    #s;
    constructor(format) { this.#s = codecPair(format, false, "DecompressionStream"); }
    static { dsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a DecompressionStream"); } }; }
    get readable() { return dsOf(this).readable; }
    get writable() { return dsOf(this).writable; }
  }

  // =====================================================================
  // Workers additions
  // =====================================================================
  // IdentityTransformStream: bytes in, the same bytes out, on a byte stream (so BYOB
  // reads work); each write resolves once a reader has taken the chunk, as in Workers.
  function bytesOfChunk(chunk) {
    if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0));
    if (isArrayBufferView(chunk)) return new Uint8Array(cloneArrayBuffer(bufferOf(chunk), chunk.byteOffset, chunk.byteLength));
    throw new TypeError("This TransformStream is being used as a byte stream, but received an object of non-ArrayBuffer/ArrayBufferView type on its writable side.");
  }
  function identityPair(limit) {
    let controller;
    let waiting = null;
    let written = 0;
    const wake = () => { if (waiting !== null) { const w = waiting; waiting = null; w(); } };
    const readable = new ReadableStream({
      type: "bytes",
      start(c) { controller = c; },
      pull() { wake(); },
      cancel(reason) { writableController.error(reason); wake(); },
    }, { highWaterMark: 0 });
    let writableController;
    const writable = new WritableStream({
      start(c) { writableController = c; },
      write(chunk) {
        const bytes = bytesOfChunk(chunk);
        written += bytes.byteLength;
        if (limit !== undefined && written > limit) {
          const e = new TypeError("Attempt to write too many bytes through a FixedLengthStream.");
          controller.error(e);
          throw e;
        }
        if (bytes.byteLength === 0) return undefined;
        const req = controller.byobRequest;
        if (req !== null) {
          const view = req.view;
          const n = Math.min(view.byteLength, bytes.byteLength);
          view.set(bytes.subarray(0, n));
          req.respond(n);
          if (n < bytes.byteLength) controller.enqueue(bytes.subarray(n));
        } else {
          controller.enqueue(bytes);
        }
        if (controller.desiredSize > 0) return undefined;
        return new OrigPromise((resolve) => { waiting = resolve; });
      },
      close() {
        if (limit !== undefined && written < limit) {
          const e = new TypeError("FixedLengthStream did not see all expected bytes before close().");
          controller.error(e);
          throw e;
        }
        controller.close();
        const req = controller.byobRequest;
        if (req !== null) req.respond(0);
      },
      abort(reason) { controller.error(reason); },
    });
    return { readable, writable };
  }
  let itsOf;
  class IdentityTransformStream {
    #s;
    constructor() { this.#s = identityPair(undefined); }
    static { itsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not an IdentityTransformStream"); } }; }
    get readable() { return itsOf(this).readable; }
    get writable() { return itsOf(this).writable; }
  }
  let flsOf;
  class FixedLengthStream {
    #s;
    constructor(expectedLength) {
      const n = typeof expectedLength === "bigint" ? Number(expectedLength) : Number(expectedLength);
      if (!Number.isInteger(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) throw new TypeError("FixedLengthStream requires an integer expected length");
      this.#s = identityPair(n);
      this.#s.length = n;
    }
    static { flsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a FixedLengthStream"); } }; }
    get readable() { return flsOf(this).readable; }
    get writable() { return flsOf(this).writable; }
  }
  // The body length a FixedLengthStream's readable side promises (for Content-Length).
  const fixedLengths = new WeakMap();
  const fixedReadable = Object.getOwnPropertyDescriptor(FixedLengthStream.prototype, "readable").get;
  Object.defineProperty(FixedLengthStream.prototype, "readable", {
    configurable: true, enumerable: true,
    get() { const r = fixedReadable.call(this); fixedLengths.set(r, flsOf(this).length); return r; },
  });

  // ---- hooks for the rest of the runtime (the prelude) ----
  Object.defineProperty(globalThis, "__outpostStreams", {
    configurable: true,
    value: Object.freeze({
      // A readable stream whose chunks come from `pull(controller)` (a byte stream).
      byteStream(pull, cancel) {
        return new ReadableStream({ type: "bytes", pull: (c) => pull(c), cancel: (r) => cancel(r) }, { highWaterMark: 0 });
      },
      isDisturbed(stream) { return rs(stream).disturbed; },
      disturb(stream) { rs(stream).disturbed = true; },
      isErrored(stream) { return rs(stream).state === "errored"; },
      fixedLength(stream) { return fixedLengths.get(stream); },
    }),
  });

  // ---- the global names, with WebIDL's property attributes ----
  const classes = {
    ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader, ReadableStreamDefaultController,
    ReadableByteStreamController, ReadableStreamBYOBRequest, WritableStream, WritableStreamDefaultWriter,
    WritableStreamDefaultController, TransformStream, TransformStreamDefaultController,
    ByteLengthQueuingStrategy, CountQueuingStrategy, TextEncoderStream, TextDecoderStream,
    IdentityTransformStream, FixedLengthStream, CompressionStream, DecompressionStream,
  };
  for (const [name, C] of Object.entries(classes)) {
    for (const key of Reflect.ownKeys(C.prototype)) {
      if (key === "constructor" || key === Symbol.asyncIterator) continue;
      const d = Object.getOwnPropertyDescriptor(C.prototype, key);
      Object.defineProperty(C.prototype, key, { ...d, enumerable: true });
    }
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: name, configurable: true });
    Object.defineProperty(globalThis, name, { value: C, writable: true, enumerable: false, configurable: true });
  }
  Object.defineProperty(ReadableStream, "from", { enumerable: true });
})();
