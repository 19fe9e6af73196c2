// XHR standard FormData (https://xhr.spec.whatwg.org/#interface-formdata), with the
// HTML standard's multipart/form-data encoding and Fetch's body parsing. Exposes
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

  // HTML, "multipart/form-data encoding algorithm": names and filenames escape `"`,
  // CR and LF. Values go as they are (line breaks are normalised by form submission,
  // not by FormData: workerd, Deno and undici agree).
  const escapeName = (s) => s.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");
  function serialize(fd) {
    // (A boundary only has to be unlikely to occur in the body.)
    let hex = "";
    while (hex.length < 24) hex += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
    const boundary = `----OutpostFormBoundary${hex}`;
    const chunks = [];
    let size = 0;
    const push = (bytes) => { chunks.push(bytes); size += bytes.byteLength; };
    for (const [name, value] of list(fd)) {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"`;
      if (typeof value === "string") {
        push(encoder.encode(`${head}\r\n\r\n`));
        push(encoder.encode(value));
      } else {
        head += `; filename="${escapeName(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
        push(encoder.encode(head));
        push(blobParts(value)[0]);
      }
      push(encoder.encode("\r\n"));
    }
    push(encoder.encode(`--${boundary}--\r\n`));
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.byteLength; }
    return [out, `multipart/form-data; boundary=${boundary}`];
  }

  function parameter(contentType, name) {
    for (const part of contentType.split(";").slice(1)) {
      const eq = part.indexOf("=");
      if (eq === -1 || part.slice(0, eq).trim().toLowerCase() !== name) continue;
      let v = part.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
      return v;
    }
    return null;
  }
  function indexOf(bytes, needle, from) {
    outer: for (let i = from; i <= bytes.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
  const broken = () => new TypeError("Failed to parse body as FormData.");
  function parseMultipart(bytes, boundary) {
    const fd = new FormData();
    const delimiter = encoder.encode(`--${boundary}`);
    let at = indexOf(bytes, delimiter, 0);
    if (at === -1) throw broken();
    for (;;) {
      at += delimiter.length;
      if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) return fd; // "--": the end
      if (bytes[at] === 0x0d) at++;
      if (bytes[at] !== 0x0a) throw broken();
      at++;
      const headEnd = indexOf(bytes, encoder.encode("\r\n\r\n"), at);
      if (headEnd === -1) throw broken();
      const head = decoder.decode(bytes.subarray(at, headEnd));
      const next = indexOf(bytes, encoder.encode(`\r\n--${boundary}`), headEnd + 4);
      if (next === -1) throw broken();
      const data = bytes.slice(headEnd + 4, next);
      let name = null, filename = null, type = "";
      for (const line of head.split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon === -1) continue;
        const field = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (field === "content-disposition") {
          if (value.split(";")[0].trim().toLowerCase() !== "form-data") throw broken();
          name = parameter(value, "name");
          filename = parameter(value, "filename");
        } else if (field === "content-type") {
          type = value;
        }
      }
      if (name === null) throw broken();
      if (filename !== null) fd.append(name, new File([data], filename, { type }));
      else fd.append(name, decoder.decode(data));
      at = next + 2;
    }
  }
  // Fetch, "body.formData()": multipart or URL-encoded, by the body's content type.
  function parse(bytes, contentType) {
    const ct = contentType === null ? "" : contentType;
    const essence = ct.split(";")[0].trim().toLowerCase();
    if (essence === "multipart/form-data") {
      const boundary = parameter(ct, "boundary");
      if (boundary === null || boundary === "") throw broken();
      return parseMultipart(bytes, boundary);
    }
    if (essence === "application/x-www-form-urlencoded") {
      const fd = new FormData();
      for (const [k, v] of new URLSearchParams(decoder.decode(bytes))) fd.append(k, v);
      return fd;
    }
    throw broken();
  }
  Object.defineProperty(globalThis, "__outpostFormData", {
    configurable: true,
    value: Object.freeze({ serialize, parse, is: (x) => typeof x === "object" && x !== null && lists.has(x) }),
  });
})();
