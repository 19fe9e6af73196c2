// Streams, part 07: encoding, compression and Workers streams; the hooks the prelude uses; the global names.
// (The parts in this folder are one script, concatenated in order: see instance.rs.)
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
  // The body length a FixedLengthStream's readable side promises (for Content-Length).
  const fixedLengths = new WeakMap();
  let flsOf;
  class FixedLengthStream {
    #s;
    constructor(expectedLength) {
      const n = Number(expectedLength);
      if (!Number.isInteger(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) throw new TypeError("FixedLengthStream requires an integer expected length");
      this.#s = identityPair(n);
      fixedLengths.set(this.#s.readable, n);
    }
    static { flsOf = (o) => { try { return o.#s; } catch { throw new TypeError("not a FixedLengthStream"); } }; }
    get readable() { return flsOf(this).readable; }
    get writable() { return flsOf(this).writable; }
  }

  // api.handOn(stream), given the stream's record `s`.
  function handOnRecord(stream, s) {
    if (s.reader !== undefined || s.disturbed) throw new TypeError("This ReadableStream is disturbed (has already been read from), and cannot be used as a body.");
    const tag = s.tag;
    if (tag === undefined) return undefined;
    s.tag = undefined;
    if (s.lazy !== undefined) s.reader = HANDED_ON;
    else acquireReadableStreamDefaultReader(rs(stream));
    return tag;
  }

  // ---- what the loader installs, and hooks for the rest of the runtime (the prelude) ----
  const api = Object.freeze({
    // A readable stream whose chunks come from `pull(controller)` (a byte stream with a
    // high-water mark of 0): what the public constructor makes from such a source,
    // without its argument conversions (what bytesStream below builds on).
    // Its controller is set up on first use (see materialize()).
    byteStream(pull, cancel) {
      const s = initializeReadableStream();
      s.lazy = (s) => {
        const c = newByteControllerRecord();
        setUpReadableByteStreamController(s, c, noop, () => promiseCall(pull, undefined, [c.obj]), (r) => promiseCall(cancel, undefined, [r]), 0, undefined);
      };
      newRS(s);
      return s.obj;
    },
    // Streams over bodies the host holds (a fetch's answer): `make(tag)` makes one whose
    // chunks come from `pull(tag, controller)` (a byte stream with a high-water mark of
    // 0, its controller set up on first use) and whose cancel calls `cancel(tag)`. The
    // steps are shared by every such stream; the host makes each one, an object without
    // a record until it is used (see hostRecord() in 02-readable.js), and `handOn`
    // gives the tag back while the stream is untouched. (Called once, by the prelude.)
    hostStreams(pull, cancel) {
      hostSetUp = (s) => {
        const c = newByteControllerRecord();
        const tag = s.tag;
        setUpReadableByteStreamController(s, c, noop, () => promiseCall(pull, undefined, [tag, c.obj]), (r) => promiseCall(cancel, undefined, [tag, r]), 0, undefined);
      };
      return nativeHost.makeHostStream;
    },
    // What a stream handed over as a body gives: a host stream's tag (the stream is
    // then locked for good, as getReader() would; one never used needs no reader and
    // gets no controller), or undefined for any other stream. Throws for a stream
    // already locked or read from.
    handOn(stream) {
      const tag = nativeHost.handOnHostStream(stream);
      if (tag !== undefined) return tag;
      return handOnRecord(stream, rsRaw(stream));
    },
    // What `x` given as a body becomes if it is a stream: its host body if it is an
    // untouched host stream (handed on as handOn() does), else the stream itself;
    // undefined if `x` is not a stream. (One call from the native `Response`
    // constructor, where isReadable() and handOn() were two and their callers more.)
    // (The constructor hands on an untouched host stream itself, host_streams.rs.)
    bodySource(x) {
      const s = rsRawIfAny(x);
      if (s === undefined) return undefined;
      return handOnRecord(x, s) ?? x;
    },
    // A stream over bytes already held (a string or buffer body, a Blob): one chunk.
    bytesStream(bytes) {
      let left = bytes;
      return api.byteStream((controller) => {
        if (left !== null && left.byteLength > 0) controller.enqueue(left.slice());
        left = null;
        controller.close();
        const req = controller.byobRequest;
        if (req !== null) req.respond(0);
      }, () => { left = null; });
    },
    isReadable: isRS,
    isDisturbed(stream) { return rsRaw(stream).disturbed; },
    isLocked(stream) { return rsRaw(stream).reader !== undefined; },
    disturb(stream) { rsRaw(stream).disturbed = true; },
    fixedLength(stream) { return fixedLengths.get(stream); },
  });

  // WebIDL's property attributes.
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
  }
  Object.defineProperty(ReadableStream, "from", { enumerable: true });
  return { api, classes };
})
