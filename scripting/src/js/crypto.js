// Web Crypto for hooks (https://w3c.github.io/webcrypto/) as workerd has it: Crypto,
// SubtleCrypto and CryptoKey; digests (and MD5, as Workers), HMAC, AES-GCM/CBC/CTR/KW,
// key wrapping, PBKDF2, HKDF, ECDH, public-key verification and private-key signing,
// and Workers' crypto.DigestStream. Keys stay out of the script's reach; the bytes are
// worked on by host functions on ring (`crypto.rs`, `public_keys.rs`,
// `private_keys.rs`) and RustCrypto (`ciphers.rs`). Runs
// before the prelude, which removes the host functions from the global object.
// Only `crypto`, the classes, `digest` and `CryptoKey` live here; SubtleCrypto's other
// operations (`js/subtle.js`, 24 KB) are compiled into a context when a script first
// calls one: most hooks never do, and compiled code is most of a context's memory.
(() => {
  "use strict";
  const host = globalThis.__outpostHost;
  const ILLEGAL = Symbol("illegal");
  const encoder = new TextEncoder();
  function toBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (typeof data === "string") return encoder.encode(data);
    throw new TypeError("expected an ArrayBuffer, a typed array, a DataView or a string");
  }

  // Web Crypto, the parts hooks use: Crypto and SubtleCrypto as in workerd (classes
  // that scripts cannot construct, operations on their prototypes).
  // (MD5 is not Web Crypto's; Workers have it.)
  const DIGESTS = ["SHA-1", "SHA-256", "SHA-384", "SHA-512", "MD5"];
  const cryptoOperations = {
    randomUUID() { return host.uuid(); },
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
        throw new TypeError("getRandomValues needs an integer typed array");
      }
      if (array.byteLength > 65536) {
        throw new RangeError(`getRandomValues: ${array.byteLength} bytes requested, the limit is 65536`);
      }
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(host.random(array.byteLength));
      return array;
    },
  };
  // The operations in the order workerd lists them; all but `digest` load the rest of
  // Web Crypto on first call. The loader gets what it shares with this file (taken
  // before any script runs, so a script replacing globals cannot reach key records).
  let operations = null;
  function loaded() {
    if (operations === null) {
      operations = host.loadPart("subtle", { host, ILLEGAL, encoder, keys, keyRecord, CryptoKey });
    }
    return operations;
  }
  const subtleOperations = {
    async digest(algorithm, data) {
      const name = String(typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm).toUpperCase();
      if (!DIGESTS.includes(name)) throw new TypeError(`Unrecognized or unimplemented digest algorithm: ${name}`);
      return host.digest(name, toBytes(data));
    },
  };
  for (const [name, length] of [
    ["importKey", 5], ["generateKey", 3], ["exportKey", 2], ["encrypt", 3], ["decrypt", 3], ["wrapKey", 4],
    ["unwrapKey", 7], ["deriveBits", 3], ["deriveKey", 5], ["sign", 3], ["verify", 4],
  ]) {
    const operation = { async [name](...args) { return loaded()[name](...args); } }[name];
    Object.defineProperty(operation, "length", { value: length });
    subtleOperations[name] = operation;
  }
  class SubtleCrypto {
    constructor(token) { if (token !== ILLEGAL) throw new TypeError("Illegal constructor"); }
  }
  Object.defineProperties(SubtleCrypto.prototype, Object.getOwnPropertyDescriptors(subtleOperations));
  const subtle = new SubtleCrypto(ILLEGAL);
  class Crypto {
    constructor(token) { if (token !== ILLEGAL) throw new TypeError("Illegal constructor"); }
    get subtle() { return subtle; }
  }
  // Workers' crypto.DigestStream: a WritableStream whose `digest` promise settles with
  // the hash of everything written once it closes. (The bytes are hashed at close:
  // the stream keeps what was written until then.) Its prototype chain reaches
  // WritableStream on first use, so the Streams code loads only when one is made.
  class DigestStream {
    constructor(algorithm) {
      const name = String(typeof algorithm === "object" && algorithm !== null ? algorithm.name : algorithm).toUpperCase();
      if (!DIGESTS.includes(name)) throw new DOMException(`Unrecognized or unimplemented digest algorithm: ${name}`, "NotSupportedError");
      if (Object.getPrototypeOf(DigestStream.prototype) !== WritableStream.prototype) {
        Object.setPrototypeOf(DigestStream.prototype, WritableStream.prototype);
        Object.setPrototypeOf(DigestStream, WritableStream);
      }
      const chunks = [];
      let settle, fail;
      const digest = new Promise((resolve, reject) => { settle = resolve; fail = reject; });
      const stream = Reflect.construct(WritableStream, [{
        write(chunk) {
          if (typeof chunk === "string" || chunk instanceof ArrayBuffer || ArrayBuffer.isView(chunk)) {
            chunks.push(toBytes(chunk).slice());
          } else {
            throw new TypeError("DigestStream takes strings, ArrayBuffers and views");
          }
        },
        close() {
          let total = 0;
          for (const c of chunks) total += c.byteLength;
          const all = new Uint8Array(total);
          let at = 0;
          for (const c of chunks) { all.set(c, at); at += c.byteLength; }
          settle(host.digest(name, all));
        },
        abort(reason) { fail(reason); },
      }], new.target);
      Object.defineProperty(stream, "digest", { value: digest, enumerable: true });
      return stream;
    }
  }
  Object.defineProperty(Crypto.prototype, "DigestStream", { value: DigestStream, writable: true, enumerable: false, configurable: true });
  Object.defineProperties(Crypto.prototype, Object.getOwnPropertyDescriptors(cryptoOperations));
  Object.defineProperty(Crypto.prototype, "subtle", { ...Object.getOwnPropertyDescriptor(Crypto.prototype, "subtle"), enumerable: true });
  for (const C of [Crypto, SubtleCrypto]) {
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, enumerable: false, configurable: true });
  }
  globalThis.crypto = new Crypto(ILLEGAL);

  // Web Crypto keys: HMAC (what webhook signatures use), the key bytes kept out of the
  // script's reach. Errors are the DOMException names the Web Crypto standard gives.
  const keys = new WeakMap();
  class CryptoKey {
    constructor(token) { if (token !== ILLEGAL) throw new TypeError("Illegal constructor"); }
    get type() { return keyRecord(this).type; }
    get extractable() { return keyRecord(this).extractable; }
    get algorithm() {
      const k = keyRecord(this);
      return k.algorithm !== undefined ? { ...k.algorithm } : { name: "HMAC", hash: { name: k.hash }, length: k.length };
    }
    get usages() { return [...keyRecord(this).usages]; }
  }
  // (No toStringTag: workerd's CryptoKey prints as [object Object].)
  Object.defineProperty(globalThis, "CryptoKey", { value: CryptoKey, writable: true, enumerable: false, configurable: true });
  function keyRecord(key) {
    const k = typeof key === "object" && key !== null ? keys.get(key) : undefined;
    if (k === undefined) throw new TypeError("expected a CryptoKey");
    return k;
  }
})();
