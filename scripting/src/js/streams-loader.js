// Compiles the Streams standard (js/streams/, about 120 KB) on first use instead of
// in every new context: boa parses it at ~6 MB/s, which would make every script's
// cold start ~30 ms longer although most hooks never touch a stream. The global names
// are accessors; reading one (or the prelude asking for a stream) compiles the code
// through the host.
//
// The intrinsics the streams code chains its promises with are taken here, before any
// script runs, so a script that patches `Promise.prototype.then` before its first
// stream still cannot reach a stream's internal steps.
(() => {
  "use strict";
  const host = globalThis.__outpostHost;
  const { onAbort, isSignal } = globalThis.__outpostSignals;
  delete globalThis.__outpostSignals;
  const TypedArray = Object.getPrototypeOf(Uint8Array);
  const getter = (proto, key) => Object.getOwnPropertyDescriptor(proto, key).get;
  const intrinsics = Object.freeze({
    OrigPromise: Promise,
    apply: Reflect.apply,
    promiseThen: Promise.prototype.then,
    promiseResolve: Promise.resolve,
    promiseReject: Promise.reject,
    queueMicrotask: globalThis.queueMicrotask,
    DOMException: globalThis.DOMException,
    onAbort,
    isSignal,
    AbortControllerCtor: globalThis.AbortController,
    TypedArray,
    typedArrayName: getter(TypedArray.prototype, Symbol.toStringTag),
    viewBuffer: getter(TypedArray.prototype, "buffer"),
    dataViewBuffer: getter(DataView.prototype, "buffer"),
    abByteLength: getter(ArrayBuffer.prototype, "byteLength"),
    nativeHost: host,
    abSlice: ArrayBuffer.prototype.slice,
    AsyncIteratorPrototype: Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype),
  });
  const NAMES = [
    "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "ReadableStreamDefaultController",
    "ReadableByteStreamController", "ReadableStreamBYOBRequest", "WritableStream", "WritableStreamDefaultWriter",
    "WritableStreamDefaultController", "TransformStream", "TransformStreamDefaultController",
    "ByteLengthQueuingStrategy", "CountQueuingStrategy", "TextEncoderStream", "TextDecoderStream",
    "IdentityTransformStream", "FixedLengthStream", "CompressionStream", "DecompressionStream",
  ];
  let api = null;
  let classes = null;
  function load() {
    if (api === null) {
      const made = host.loadStreams(intrinsics);
      api = made.api;
      classes = made.classes;
    }
    return api;
  }
  // The names stay accessors after loading: turning a global accessor into a data
  // property behind code that already looked names up confuses boa's property caches.
  // A script's own assignment is kept (and wins) as it would for a data property.
  const assigned = Object.create(null);
  for (const name of NAMES) {
    Object.defineProperty(globalThis, name, {
      get: { [name]() { if (name in assigned) return assigned[name]; load(); return classes[name]; } }[name],
      set: { [name](value) { assigned[name] = value; } }[name],
      enumerable: false,
      configurable: true,
    });
  }
  // For the prelude: the streams' internal operations (compiling them when first
  // needed) and a brand check that never compiles them (no stream exists before).
  Object.defineProperty(globalThis, "__outpostStreams", {
    configurable: true,
    value: Object.freeze({
      api: load,
      isStream(x) { return api !== null && api.isReadable(x); },
    }),
  });
})();
