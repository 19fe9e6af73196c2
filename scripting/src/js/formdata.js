// XHR standard FormData (https://xhr.spec.whatwg.org/#interface-formdata), with the
// HTML standard's multipart/form-data encoding and Fetch's body parsing (those two in
// js/multipart.js, compiled on first use). Exposes
// `__outpostFormData` for the prelude (FormData as a body, `body.formData()`), which
// takes it and deletes it.
(() => {
  "use strict";
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const lists = new WeakMap();
  // Taken now: the prelude deletes the helper, and a script may replace the globals.
  const blobParts = globalThis.__outpostBlobs.parts;
  const { Blob, File } = globalThis;
  function list(fd) {
    const l = typeof fd === "object" && fd !== null ? lists.get(fd) : undefined;
    if (l === undefined) throw new TypeError("Illegal invocation: not a FormData");
    return l;
  }
  function needs(n, args, what) {
    if (args.length < n) throw new TypeError(`Failed to execute '${what}' on 'FormData': ${n} argument${n > 1 ? "s" : ""} required, but only ${args.length} present.`);
  }
  // "Create an entry": a Blob value becomes a File (named by the filename argument, or
  // its own name, or "blob"); anything else a string.
  function entry(name, value, filename) {
    name = String(name);
    if (value instanceof Blob) {
      if (!(value instanceof File) || filename !== undefined) {
        const n = filename !== undefined ? String(filename) : value instanceof File ? value.name : "blob";
        value = new File([value], n, { type: value.type, lastModified: value instanceof File ? value.lastModified : undefined });
      }
      return [name, value];
    }
    return [name, String(value)];
  }

  class FormData {
    constructor(form = undefined) {
      if (form !== undefined) throw new TypeError("Failed to construct 'FormData': parameter 1 is not of type 'HTMLFormElement'.");
      lists.set(this, []);
    }
    append(name, value, filename = undefined) {
      needs(2, arguments, "append");
      list(this).push(entry(name, value, filename));
    }
    delete(name) {
      needs(1, arguments, "delete");
      const l = list(this);
      name = String(name);
      for (let i = l.length - 1; i >= 0; i--) if (l[i][0] === name) l.splice(i, 1);
    }
    get(name) {
      needs(1, arguments, "get");
      name = String(name);
      const e = list(this).find((x) => x[0] === name);
      return e === undefined ? null : e[1];
    }
    getAll(name) {
      needs(1, arguments, "getAll");
      name = String(name);
      return list(this).filter((x) => x[0] === name).map((x) => x[1]);
    }
    has(name) {
      needs(1, arguments, "has");
      name = String(name);
      return list(this).some((x) => x[0] === name);
    }
    set(name, value, filename = undefined) {
      needs(2, arguments, "set");
      const l = list(this);
      const e = entry(name, value, filename);
      const first = l.findIndex((x) => x[0] === e[0]);
      if (first === -1) { l.push(e); return; }
      l[first] = e;
      for (let i = l.length - 1; i > first; i--) if (l[i][0] === e[0]) l.splice(i, 1);
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== "function") throw new TypeError("Failed to execute 'forEach' on 'FormData': parameter 1 is not a function.");
      for (const [k, v] of this) callback.call(thisArg, v, k, this);
    }
    *entries() {
      const l = list(this);
      // Live, as the spec's iterators: entries added meanwhile are visited.
      for (let i = 0; i < l.length; i++) yield [l[i][0], l[i][1]];
    }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    [Symbol.iterator]() { return this.entries(); }
  }
  // (No toStringTag: workerd's FormData prints as [object Object].)
  for (const key of Object.getOwnPropertyNames(FormData.prototype)) {
    if (key === "constructor") continue;
    Object.defineProperty(FormData.prototype, key, { ...Object.getOwnPropertyDescriptor(FormData.prototype, key), enumerable: true });
  }
  Object.defineProperty(globalThis, "FormData", { value: FormData, writable: true, enumerable: false, configurable: true });

  // The body codecs (js/multipart.js) compile on a script's first FormData body or
  // `formData()`; most scripts use neither.
  const host = globalThis.__outpostHost;
  let codecs = null;
  const loaded = () => (codecs ??= host.loadPart("multipart", { FormData, File, list, encoder, decoder, blobParts }));
  const serialize = (fd) => loaded().serialize(fd);
  const parse = (bytes, contentType) => loaded().parse(bytes, contentType);
  Object.defineProperty(globalThis, "__outpostFormData", {
    configurable: true,
    value: Object.freeze({ serialize, parse, is: (x) => typeof x === "object" && x !== null && lists.has(x) }),
  });
})();
