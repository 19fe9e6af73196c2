// The WHATWG Streams standard (https://streams.spec.whatwg.org/), written from the
// standard's algorithms, whose names the functions below keep: readable streams
// (default and byte sources, default and BYOB readers, tee, pipes, async iteration,
// from), writable streams, transform streams and the two queuing strategies; then
// TextEncoderStream / TextDecoderStream (Encoding standard), Compression Streams and
// the Workers additions IdentityTransformStream and FixedLengthStream. One script in
// parts (this folder, concatenated in file-name order), compiled on first use: see
// streams-loader.js.
//
// Every public object keeps its state in one internal record (`#s`), reached by the
// abstract operations through the `rs()`, `ws()`… accessors, which also do the brand
// checks WebIDL asks for. Promises are made and chained with the original Promise
// intrinsics, so a script that patches `Promise.prototype.then` or `Object.prototype.then`
// cannot see or break a stream's internal steps.
(function (intrinsics) {
  "use strict";
  // Taken by streams-loader.js before any script ran.
  const {
    OrigPromise, apply, promiseThen, promiseResolve, promiseReject, queueMicrotask, DOMException, onAbort, isSignal,
    AbortControllerCtor, TypedArray, typedArrayName, viewBuffer, dataViewBuffer, abByteLength, nativeHost, abSlice,
    AsyncIteratorPrototype,
  } = intrinsics;

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


  // (Continued in the next part of this folder: the files are concatenated in order.)
