// File API (https://w3c.github.io/FileAPI/): Blob and File, held as bytes. Exposes
// `__outpostBlobs.bytes(blob)` for the prelude (a Blob as a request or response body),
// which takes it and deletes it.
(() => {
  "use strict";
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const blobs = new WeakMap();
  // The Streams internals (compiled on first use; the prelude deletes the global after).
  const streamsApi = globalThis.__outpostStreams.api;
  function record(blob) {
    const r = typeof blob === "object" && blob !== null ? blobs.get(blob) : undefined;
    if (r === undefined) throw new TypeError("Illegal invocation: not a Blob");
    return r;
  }
  // The type a Blob keeps: lower-cased, or empty if it has a character outside
  // U+0020–U+007E.
  function normalizeType(t) {
    const s = String(t);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return "";
    }
    return s.toLowerCase();
  }
  function partBytes(part) {
    if (part instanceof ArrayBuffer) return new Uint8Array(part.slice(0));
    if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
    const r = typeof part === "object" && part !== null ? blobs.get(part) : undefined;
    if (r !== undefined) return r.bytes;
    return encoder.encode(String(part));
  }
  function concat(chunks) {
    let size = 0;
    for (const c of chunks) size += c.byteLength;
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.byteLength; }
    return out;
  }
  function relative(i, size) {
    if (i === undefined) return undefined;
    const n = Math.trunc(Number(i)) || 0;
    return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
  }
  class Blob {
    constructor(blobParts = undefined, options = undefined) {
      let parts = [];
      if (blobParts !== undefined) {
        if (blobParts === null || typeof blobParts !== "object" || typeof blobParts[Symbol.iterator] !== "function") {
          throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
        }
        parts = [...blobParts].map(partBytes);
      }
      const type = options === undefined || options === null || options.type === undefined ? "" : normalizeType(options.type);
      blobs.set(this, { bytes: concat(parts), type });
    }
    get size() { return record(this).bytes.byteLength; }
    get type() { return record(this).type; }
    slice(start = undefined, end = undefined, contentType = undefined) {
      const r = record(this);
      const size = r.bytes.byteLength;
      const from = relative(start, size) ?? 0;
      const to = relative(end, size) ?? size;
      const b = new Blob([], { type: contentType === undefined ? "" : contentType });
      blobs.get(b).bytes = r.bytes.slice(from, Math.max(from, to));
      return b;
    }
    async text() { return decoder.decode(record(this).bytes); }
    async arrayBuffer() { return record(this).bytes.slice().buffer; }
    async bytes() { return record(this).bytes.slice(); }
    stream() { return streamsApi().bytesStream(record(this).bytes); }
  }
  class File extends Blob {
    #name; #lastModified;
    constructor(fileBits, fileName, options = undefined) {
      if (arguments.length < 2) throw new TypeError("Failed to construct 'File': 2 arguments required.");
      super(fileBits, options);
      this.#name = String(fileName);
      const lm = options === undefined || options === null ? undefined : options.lastModified;
      this.#lastModified = lm === undefined ? Date.now() : Math.trunc(Number(lm)) || 0;
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
  }
  for (const C of [Blob, File]) {
    for (const key of Object.getOwnPropertyNames(C.prototype)) {
      if (key === "constructor") continue;
      Object.defineProperty(C.prototype, key, { ...Object.getOwnPropertyDescriptor(C.prototype, key), enumerable: true });
    }
    // (No toStringTag: workerd's Blob and File print as [object Object].)
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, enumerable: false, configurable: true });
  }
  Object.defineProperty(globalThis, "__outpostBlobs", {
    configurable: true,
    value: Object.freeze({
      // [bytes, type] of a Blob, or undefined for anything else.
      parts(x) { const r = typeof x === "object" && x !== null ? blobs.get(x) : undefined; return r && [r.bytes, r.type]; },
    }),
  });
})();
