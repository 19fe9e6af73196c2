// The Headers constructor scripts see, over boa_runtime's class: boa_runtime stores and
// checks values well, but reads back a value with any byte beyond ASCII as "", drops
// the ", " between empty values, iterates in insertion order with names repeated and
// reads a sequence like [["a", "1", "2"]] as a record. The readers below answer as
// Workers do (through host functions); the prelude gets the native class as
// `__outpostNativeHeaders`.
(() => {
  "use strict";
  const host = globalThis.__outpostHost;
  const NativeHeaders = globalThis.Headers;
  const method = (value) => ({ value, writable: true, configurable: true });
  const entries = function entries() { return host.headerList(this)[Symbol.iterator](); };
  Object.defineProperties(NativeHeaders.prototype, {
    get: method(function get(name) { return host.headerGet(this, name); }),
    entries: method(entries),
    [Symbol.iterator]: method(entries),
    keys: method(function keys() { return host.headerList(this).map(([k]) => k)[Symbol.iterator](); }),
    values: method(function values() { return host.headerList(this).map(([, v]) => v)[Symbol.iterator](); }),
    forEach: method(function forEach(f, self) {
      for (const [k, v] of host.headerList(this)) f.call(self, v, k, this);
    }),
    append: method(function append(name, value) { host.headerAppend(this, name, value); }),
    set: method(function set(name, value) { host.headerSet(this, name, value); }),
    delete: method(Object.defineProperty(function (name) { host.headerDelete(this, name); }, "name", { value: "delete" })),
  });
  // The prototype is the native class's, so every Headers object is `instanceof Headers`.
  const Headers = function Headers(init) {
    if (new.target === undefined) throw new TypeError("Failed to construct 'Headers': Please use the 'new' operator.");
    if (init !== null && typeof init === "object" && typeof init[Symbol.iterator] === "function" && !(init instanceof NativeHeaders)) {
      const pairs = [];
      for (const pair of init) {
        const list = typeof pair === "string" || pair === null || typeof pair !== "object" ? null : [...pair];
        if (list === null || list.length !== 2) throw new TypeError("Failed to construct 'Headers': each header must be a [name, value] pair.");
        pairs.push(list);
      }
      init = pairs;
    } else if (init === null || (init !== undefined && typeof init !== "object" && typeof init !== "function")) {
      throw new TypeError("Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.");
    }
    return Reflect.construct(NativeHeaders, init === undefined ? [] : [init], new.target);
  };
  Headers.prototype = NativeHeaders.prototype;
  Object.defineProperty(NativeHeaders.prototype, "constructor", { value: Headers, writable: true, configurable: true });
  Object.defineProperty(globalThis, "Headers", { value: Headers, writable: true, enumerable: false, configurable: true });
  Object.defineProperty(globalThis, "__outpostNativeHeaders", { value: NativeHeaders, configurable: true });
})();
