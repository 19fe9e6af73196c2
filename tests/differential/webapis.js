// Differential test script: run in Cloudflare's workerd and in Outpost, the answers
// must match (tests/workerd_diff.rs). Deterministic only: no dates, no randomness.
const routes = {
  async "/request"(request) {
    const url = new URL(request.url);
    return {
      method: request.method,
      path: url.pathname,
      search: url.search,
      q: url.searchParams.getAll("q"),
      ua: request.headers.get("user-agent"),
      multi: request.headers.get("x-multi"),
      missing: request.headers.get("x-missing"),
      has: request.headers.has("X-Multi"),
      body: await request.text(),
      bodyUsed: request.bodyUsed,
      redirect: request.redirect,
    };
  },
  async "/url"() {
    const u = new URL("https://user:pw@Example.COM:443/a/../b/./c%20d?x=1&y=2#frag");
    const rel = new URL("../up?z", "https://example.com/a/b/c");
    const p = new URLSearchParams("a=1&b=2&a=3&c=%20x+y");
    p.append("d", "é&=");
    p.sort();
    return {
      href: u.href, host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname,
      search: u.search, hash: u.hash, origin: u.origin, username: u.username,
      rel: rel.href,
      params: p.toString(), all: p.getAll("a"), c: p.get("c"), size: [...p].length,
      encoded: new URL("https://example.com/ü?ä=ö").href,
    };
  },
  async "/headers"() {
    const h = new Headers({ "Content-Type": "text/plain", "X-A": "1" });
    h.append("x-a", "2");
    h.append("Set-Cookie", "a=1");
    h.append("set-cookie", "b=2");
    h.set("X-B", "  padded  ");
    h.delete("content-type");
    let bad = null;
    try { h.set("bad name", "x"); } catch (e) { bad = e.name; }
    return { xa: h.get("x-a"), xb: h.get("x-b"), cookies: h.getSetCookie(), has: h.has("content-type"), bad };
  },
  // What a script reads back from Headers: values beyond ASCII, empty values joined,
  // iteration sorted by name with repeated names combined (Set-Cookie kept apart).
  async "/headers-read"() {
    const h = new Headers([["x-z", "1"], ["X-A", "a"], ["x-m", "é"], ["x-a", "b"], ["set-cookie", "c=1"], ["x-e", ""]]);
    h.append("x-e", "");
    h.append("set-cookie", "d=2");
    h.set("x-euro", " €uro\t");
    const seen = [];
    h.forEach((v, k, self) => seen.push([k, v, self === h]));
    const r = new Response("", { headers: h });
    return {
      m: h.get("x-m"), euro: h.get("X-EURO"), e: h.get("x-e"), a: h.get("x-a"), none: h.get("x-none"),
      entries: [...h], keys: [...h.keys()], values: [...h.values()], seen,
      copied: [...new Headers(h).entries()], response: r.headers.get("x-m"),
      cookies: h.getSetCookie(), hasM: h.has("X-M"),
    };
  },
  async "/bodies"() {
    const r = new Response("hello", { status: 201, statusText: "Made", headers: { "x-r": "1" } });
    const c = r.clone();
    const t1 = await r.text();
    let reuse = null;
    try { await r.text(); } catch (e) { reuse = e.name; }
    const ab = await c.arrayBuffer();
    const json = await new Response('{"k":[1,2]}').json();
    const req = new Request("https://example.com/p", { method: "post", body: "data", headers: { "content-type": "text/x" } });
    const copy = new Request(req, { headers: { "x-new": "1" } });
    let getBody = null;
    try { new Request("https://example.com/", { method: "GET", body: "x" }); } catch (e) { getBody = e.name; }
    let nullBody = null;
    try { new Response("x", { status: 204 }); } catch (e) { nullBody = e.name; }
    let range = null;
    try { new Response("x", { status: 600 }); } catch (e) { range = e.name; }
    return {
      t1, reuse, abLen: ab.byteLength, json, status: c.status, statusText: c.statusText, ok: c.ok,
      reqMethod: req.method, copyHeaders: [copy.headers.get("x-new"), copy.headers.get("content-type")],
      copyBody: await copy.text(), reqUsed: req.bodyUsed, getBody, nullBody, range,
      defaultType: new Response("t").headers.get("content-type"),
      paramsType: new Response(new URLSearchParams("a=1")).headers.get("content-type"),
    };
  },
  async "/encoding"() {
    const bytes = new TextEncoder().encode("héllo €");
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    const sha1 = await crypto.subtle.digest({ name: "SHA-1" }, new TextEncoder().encode("abc"));
    const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
    return {
      bytes: [...bytes], decoded: new TextDecoder().decode(bytes),
      b64: btoa("hello"), unb64: atob("aGVsbG8="),
      sha256: hex(digest), sha1: hex(sha1),
      clone: structuredClone({ a: [1, { b: "c" }], d: new Map([["k", 1]]).size }),
      uuidShape: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
      randomLen: crypto.getRandomValues(new Uint8Array(8)).length,
    };
  },
};

// FormData: the list operations, a multipart round trip through a Response, a fixed
// multipart body and a URL-encoded one parsed, and what is refused.
routes["/formdata"] = async () => {
  const describe = async (fd) => {
    const out = [];
    for (const [k, v] of fd) {
      out.push(typeof v === "string" ? [k, v] : [k, "file", v.name, v.type, v.size, await v.text()]);
    }
    return out;
  };
  const fd = new FormData();
  fd.append("a", "1");
  fd.append("b", "line\nbreak");
  fd.append("a", "2");
  fd.append("file", new Blob(["hello"], { type: "text/plain" }), "hello.txt");
  fd.append("anon", new Blob(["x"]));
  fd.append("quoted\"name", "v");
  const ops = [fd.get("a"), fd.getAll("a"), fd.has("b"), fd.get("missing"), String(fd), [...fd.keys()]];
  fd.set("a", "3");
  fd.delete("anon");
  ops.push([...fd.keys()], fd.get("a"));
  const response = new Response(fd);
  const type = response.headers.get("content-type");
  const roundTrip = await describe(await response.formData());
  const fixed = "--XyZ\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n" +
    "--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.bin\"\r\nContent-Type: application/x-thing\r\n\r\nAB\r\n" +
    "--XyZ--\r\n";
  const parsed = await describe(await new Response(fixed, { headers: { "content-type": "multipart/form-data; boundary=XyZ" } }).formData());
  const encoded = await describe(await new Request("https://example.com/", {
    method: "POST", body: "x=1&y=a+b&x=%C3%A9",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  }).formData());
  const refused = [];
  for (const f of [
    () => new Response("x", { headers: { "content-type": "text/plain" } }).formData(),
    () => new Response("garbage", { headers: { "content-type": "multipart/form-data; boundary=Q" } }).formData(),
  ]) {
    try { await f(); refused.push("parsed"); } catch (e) { refused.push(e.name); }
  }
  return { ops, type: type.split("boundary=")[0], roundTrip, parsed, encoded, refused };
};

// Public-key signature verification (JWTs, webhooks): RSASSA-PKCS1-v1_5, RSA-PSS,
// ECDSA P-256/P-384 and Ed25519 keys from spki, raw and jwk; each signature checks,
// and fails on other data. Test vectors made once with openssl (keys thrown away).
const SIGNED = {
 "message": "outpost signs this",
 "rsa": {
  "spki": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzsymKK/kIjAB9GhXk7/JOk/BCr+QT/ZSf1f+9zV7q0Dk1bKkrYOadpUzLe2bMyVYHkuVNg6pd1BXVEygtE4KQCn0G8w3tlRXquv0//edGYdfzMRMrWiTrZMwdPMOz0iPYXj202GfDhpgMO6NOGYegdFHGTWAhQcC2OD0iQtshWUKN9Z1EwYWyH5gp0j2VXOpMUiITR9UCv++Sf4ifUPApMCgLoueX5PMeNLTqoNr84n3eH1dNFDg9SwCtnaWqSULDoFtToDAgTJsi8VYjGu9HnTmoJoS/p2EMUMKeqToDLjaeit8PX9UWmX/UhxtnQ70j9aKx1lu5CnjJPkWEBLDUwIDAQAB",
  "jwk": {
   "kty": "RSA",
   "n": "zsymKK_kIjAB9GhXk7_JOk_BCr-QT_ZSf1f-9zV7q0Dk1bKkrYOadpUzLe2bMyVYHkuVNg6pd1BXVEygtE4KQCn0G8w3tlRXquv0__edGYdfzMRMrWiTrZMwdPMOz0iPYXj202GfDhpgMO6NOGYegdFHGTWAhQcC2OD0iQtshWUKN9Z1EwYWyH5gp0j2VXOpMUiITR9UCv--Sf4ifUPApMCgLoueX5PMeNLTqoNr84n3eH1dNFDg9SwCtnaWqSULDoFtToDAgTJsi8VYjGu9HnTmoJoS_p2EMUMKeqToDLjaeit8PX9UWmX_UhxtnQ70j9aKx1lu5CnjJPkWEBLDUw",
   "e": "AQAB"
  },
  "pkcs1": "fX/TQvOCUqPmP+8YpT5bl3o9bsIMC6tIcHbKTIYY7SSJcFbYTLps8Y4V9Uxqaq63sYgZBc6hBm77YwlhBO+o4026zOZ144DaFacCEwzWOBUa7E8a6AxYPENrAEGrMB7XnCfBl8ZgBA6tVsVuabaRz+KEM1hP+6Cu0yAKAp9cyHLG0Cx1sjJaWbsVlVEjGAjutiRf66nYUOh4dawobTzG6UnxmP8hTtihjMMyiTf8tzLXPl9lTsfso4116y1W8Z9ZuyJlYAQHyow6jatdv/XaburZZhAgJprokOMk0H0AjqkdFeazv0PjYdZUcr6Mbn/Wod+9RStL27acNTq0lothYw==",
  "pss": "bKa2LFwwtBwJMRf5xedfKCkCMWoJ76AN33wcqpNzvHGLBmtw3ONU0N05g/4LZtyX/CbrqCVTUInK/bWYPauMoC/0N6348aEJeZa7DA0qXaNVL00m4bti9kMBKP/JEeIw3J2Ohv4FNgqHOGJmRzZ57h+wzQ/jKXgzwWNrJsooZRlVVzHfdEpHKFOb63zoT54v4z6ZxnhsOPZqpECfSzwgaJGCUsfMQzCmA10ZXmEmweK2bkVPVYeHyMBVKCLK1pAYTk+re3o9MwK0CMAdPTR7MuCom7Cl6W8izEfR5kBz6Tq3Jb+o5e7R541DjUIyETrU4FWyl8OtQ+C4tsyLGFDKaA=="
 },
 "p256": {
  "spki": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+LFIKuF6mXE0zEFlPpx1T18ixi+r3W77E9Fkh2FXy2xgJZEYLe0UP9cjKcahMnKQgViouNjdMe3gKr2QwAHWcg==",
  "jwk": {
   "kty": "EC",
   "crv": "P-256",
   "x": "-LFIKuF6mXE0zEFlPpx1T18ixi-r3W77E9Fkh2FXy2w",
   "y": "YCWRGC3tFD_XIynGoTJykIFYqLjY3THt4Cq9kMAB1nI"
  },
  "raw": "BPixSCrheplxNMxBZT6cdU9fIsYvq91u+xPRZIdhV8tsYCWRGC3tFD/XIynGoTJykIFYqLjY3THt4Cq9kMAB1nI=",
  "sig": "d9xt60No93Wt0laUhXtZCaxjokcM36vmZklOTdFXYf8YSQc0QWdThyXbk0sTp2JSwZyry74VUKEUW+v6lvSlow=="
 },
 "p384": {
  "spki": "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEtwBbcQ8QT7oX51r4N58shH+r9tBiLScL4I+5rCkd7nPYzQ6IX6ZDpafDknhZjH8DUwfEzejyqDNcY3KY6RV6Rqu7SzkxVmHlRP6PTNhNwecDc0TEP2G3VItpABn9ydNg",
  "jwk": {
   "kty": "EC",
   "crv": "P-384",
   "x": "twBbcQ8QT7oX51r4N58shH-r9tBiLScL4I-5rCkd7nPYzQ6IX6ZDpafDknhZjH8D",
   "y": "UwfEzejyqDNcY3KY6RV6Rqu7SzkxVmHlRP6PTNhNwecDc0TEP2G3VItpABn9ydNg"
  },
  "sig": "Vbut7t26KBjel5jJBpFoL1iMCDsVC/jUlegQb+t+TKDwII3i8/mB/2abP91rdKU99P/Tv2AH5T8ZX/cFVAHQ7jAlctuopMbx9S1AiMkKt6bQj7/nXqa3xTS/UnM3c9Gk"
 },
 "ed": {
  "spki": "MCowBQYDK2VwAyEA49rNP0h2jbHJABWF5dUPrBrSa0C+L+bLGFGyo4r2q5M=",
  "jwk": {
   "kty": "OKP",
   "crv": "Ed25519",
   "x": "49rNP0h2jbHJABWF5dUPrBrSa0C-L-bLGFGyo4r2q5M"
  },
  "raw": "49rNP0h2jbHJABWF5dUPrBrSa0C+L+bLGFGyo4r2q5M=",
  "sig": "HH5s2sWTPgUI8mMvmYqeWRmkILsZK64NHVH5RrOR06CBhZwSjEGc4LQDOu5RbpFiwAu3BOHDjTN5TvVA8R5IBA=="
 }
};

const SIGNATURE_CASES = {
  "rsa-pkcs1": ["rsa", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }, "pkcs1", ["spki", "jwk"]],
  "rsa-pss": ["rsa", { name: "RSA-PSS", hash: "SHA-256" }, { name: "RSA-PSS", saltLength: 32 }, "pss", ["spki", "jwk"]],
  "p256": ["p256", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }, "sig", ["spki", "jwk", "raw"]],
  "p384": ["p384", { name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" }, "sig", ["spki", "jwk"]],
  "ed25519": ["ed", { name: "Ed25519" }, { name: "Ed25519" }, "sig", ["spki", "jwk", "raw"]],
};
const signedBytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
for (const [name, [k, importAlg, verifyAlg, sig, formats]] of Object.entries(SIGNATURE_CASES)) {
  routes[`/sig-${name}`] = async () => {
    const message = new TextEncoder().encode(SIGNED.message);
    const other = new TextEncoder().encode(SIGNED.message + "!");
    const signature = signedBytes(SIGNED[k][sig]);
    const out = [];
    for (const format of formats) {
      const data = format === "jwk" ? SIGNED[k].jwk : signedBytes(SIGNED[k][format]);
      const key = await crypto.subtle.importKey(format, data, importAlg, false, ["verify"]);
      out.push([format, key.type, key.extractable, key.usages,
        await crypto.subtle.verify(verifyAlg, key, signature, message),
        await crypto.subtle.verify(verifyAlg, key, signature, other)]);
    }
    return out;
  };
}
routes["/sig-refused"] = async () => {
  const refused = [];
  for (const f of [
    () => crypto.subtle.importKey("spki", signedBytes(SIGNED.ed.spki), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]),
    () => crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-384", x: SIGNED.p256.jwk.x, y: SIGNED.p256.jwk.y }, { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"]),
  ]) {
    try { await f(); refused.push("imported"); } catch (e) { refused.push(e.name); }
  }
  return refused;
};

// Crypto and SubtleCrypto as interfaces, and `self`.
routes["/crypto-shape"] = async () => {
  const refused = [() => new Crypto(), () => new SubtleCrypto()].map((f) => {
    try { f(); return "constructed"; } catch (e) { return e.name; }
  });
  return {
    types: [typeof Crypto, typeof SubtleCrypto, typeof self],
    instances: [crypto instanceof Crypto, crypto.subtle instanceof SubtleCrypto, self === globalThis],
    refused,
    own: [Object.keys(crypto).length, "subtle" in Crypto.prototype, typeof SubtleCrypto.prototype.digest],
  };
};

// The Cache API's shape and its refusals (checked before any cache is asked).
routes["/cache-shape"] = async () => {
  let constructed;
  try { new Cache(); constructed = "constructed"; } catch (e) { constructed = e.name; }
  const key = "https://example.com/cache-shape";
  const refusals = [];
  for (const attempt of [
    () => caches.default.put(new Request(key, { method: "POST" }), new Response("x")),
    () => caches.default.put(key, new Response("x", { status: 206 })),
    () => caches.default.put(key, new Response("x", { headers: { vary: "*" } })),
  ]) {
    try { await attempt(); refusals.push("stored"); } catch (e) { refusals.push(`${e.name}: ${e.message}`); }
  }
  return {
    types: [typeof caches, typeof Cache, typeof CacheStorage],
    isCache: caches.default instanceof Cache,
    storage: caches instanceof CacheStorage,
    constructed,
    opened: (await caches.open("named")) instanceof Cache,
    refusals,
  };
};

// The global scope beyond the classes: navigator, performance's origin, intervals,
// CustomEvent, reportError, code from strings, JSON.parse on lone surrogates. (Outpost
// also exposes the `Performance` interface, which workerd does not: not compared.)
routes["/globals"] = async () => {
  const ticks = await new Promise((resolve) => {
    let n = 0;
    const id = setInterval(() => { n += 1; if (n === 3) { clearInterval(id); setTimeout(() => resolve(n), 20); } }, 1);
  });
  const target = new EventTarget();
  let detail = null;
  target.addEventListener("ping", (ev) => { detail = ev.detail; });
  target.dispatchEvent(new CustomEvent("ping", { detail: { n: 7 } }));
  const refused = [() => eval("1"), () => new Function("return 1")()].map((f) => {
    try { f(); return "ran"; } catch (e) { return `${e.name}: ${e.message}`; }
  });
  const waited = await scheduler.wait(5);
  const aborted = await scheduler.wait(10000, { signal: AbortSignal.abort(new Error("stop")) }).then(() => "resolved", (e) => e.message);
  const lone = JSON.parse('"a\\uD800b"');
  // The clock moves on with I/O. (Whether it stands still while a script computes,
  // as Cloudflare documents, this workerd does not do: it is checked on Outpost alone
  // in scripting/tests/hooks.rs.)
  const t0 = Date.now();
  const still = [typeof Date(), new Date(5).getTime()];
  await scheduler.wait(3);
  const moved = Date.now() - t0 >= 3;
  return {
    userAgent: navigator.userAgent,
    printed: [String(navigator), String(performance), String(scheduler)],
    scheduler: [waited === undefined, aborted],
    hardwareConcurrency: navigator.hardwareConcurrency,
    timeOrigin: performance.timeOrigin,
    nowIsNumber: typeof performance.now() === "number",
    types: [typeof Navigator, typeof CustomEvent, typeof reportError, typeof setInterval, typeof clearInterval],
    ticks,
    detail,
    refused,
    lone: [lone.length, lone.charCodeAt(1)],
    loneRoundTrip: JSON.parse(JSON.stringify("\uDC00")) === "\uDC00",
    clock: [still, moved, Date.length, Date.name, new Date() instanceof Date, Object.getPrototypeOf(new Date()) === Date.prototype],
    // The language as V8 ships it: the web-compatibility annex (old scripts use it),
    // ES2025's Float16Array and Math.sumPrecise, and no Temporal.
    annexB: ["abcdef".substr(1, 3), escape("a b&é"), unescape("%u00e9%20"), " x ".trimLeft(), new Date(2000, 0, 1).getYear(), /a/.compile("b").source, "t".anchor("n")],
    language: [typeof Temporal, typeof Float16Array, Math.sumPrecise([0.1, 0.2, 0.3]), typeof Iterator],
    // The runtime's own functions print as built-ins, whatever language they are
    // written in (Outpost's are partly JavaScript).
    printedFunctions: [fetch, Request, Response, Headers, HTMLRewriter, crypto.subtle.digest, crypto.subtle.sign,
      URLSearchParams, ReadableStream, Response.prototype.text, AbortController, setTimeout, EventTarget,
      FormData, Blob, atob, structuredClone, queueMicrotask, caches.default.match].map(String),
    names: [atob, btoa, structuredClone, queueMicrotask, setTimeout, fetch].map((f) => f.name),
    // Operations are not constructors: they have no `prototype` of their own (nor can
    // they be `new`ed); constructors do. (Request and Response are JavaScript classes
    // here, whose `prototype` cannot be writable as workerd's is.)
    ownPrototype: [fetch, atob, btoa, setTimeout, clearTimeout, queueMicrotask, structuredClone, caches.default.match]
      .map((f) => Object.hasOwn(f, "prototype")),
    notConstructors: [fetch, atob, setTimeout, structuredClone].map((f) => { try { new f(); return "constructed"; } catch (e) { return e.name; } }),
    interfacePrototype: [[Headers], [Date]].map(([C, ...args]) => {
      const d = Object.getOwnPropertyDescriptor(C, "prototype");
      return [d.writable, d.enumerable, d.configurable, new C(...args) instanceof C];
    }),
  };
};

// Web Crypto HMAC, as webhook signature checks use it.
routes["/hmac"] = async () => {
  const enc = new TextEncoder();
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const errorName = async (f) => { try { await f(); return "ok"; } catch (e) { return e.name; } };
  const key = await crypto.subtle.importKey("raw", enc.encode("secret"), { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode("message"));
  const signatures = {};
  for (const hash of ["SHA-1", "SHA-384", "SHA-512"]) {
    const k = await crypto.subtle.importKey("raw", enc.encode("secret"), { name: "HMAC", hash: { name: hash } }, false, ["sign"]);
    signatures[hash] = hex(await crypto.subtle.sign({ name: "HMAC" }, k, enc.encode("message")));
  }
  const verifyOnly = await crypto.subtle.importKey("raw", enc.encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const generated = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-512" }, true, ["sign"]);
  return {
    sha256: hex(sig),
    byteLength: sig.byteLength,
    verified: await crypto.subtle.verify("HMAC", key, sig, enc.encode("message")),
    tampered: await crypto.subtle.verify("HMAC", key, sig, enc.encode("messagE")),
    signatures,
    algorithm: key.algorithm,
    usages: key.usages,
    type: key.type,
    extractable: [key.extractable, verifyOnly.extractable],
    exported: hex(await crypto.subtle.exportKey("raw", key)),
    tag: String(key),
    generated: [generated.algorithm.length, (await crypto.subtle.exportKey("raw", generated)).byteLength],
    errors: [
      await errorName(() => crypto.subtle.sign("HMAC", verifyOnly, enc.encode("x"))),
      await errorName(() => crypto.subtle.importKey("raw", enc.encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["encrypt"])),
      await errorName(() => crypto.subtle.importKey("raw", enc.encode("k"), { name: "HMAC" }, false, ["sign"])),
      await errorName(() => crypto.subtle.importKey("raw", enc.encode("k"), { name: "NOPE" }, false, ["sign"])),
      await errorName(() => crypto.subtle.exportKey("raw", verifyOnly)),
      await errorName(() => crypto.subtle.importKey("raw", enc.encode("k"), { name: "HMAC", hash: "SHA-256" }, false, [])),
    ],
  };
};

// Blob and File, and a Blob as a body.
routes["/blob"] = async () => {
  const b = new Blob(["héllo ", new Uint8Array([119, 111]), new Blob(["rld"])], { type: "Text/PLAIN" });
  const f = new File(["data"], "a.txt", { type: "text/csv", lastModified: 42 });
  const r = new Response(b);
  const back = await new Response("xyz", { headers: { "content-type": "application/x-test" } }).blob();
  const error = (() => { try { new Blob("not a sequence"); return "ok"; } catch (e) { return e.name; } })();
  return {
    size: b.size, type: b.type, text: await b.text(),
    slices: [await b.slice(1, 4).text(), await b.slice(-3).text(), b.slice(3, 1).size, b.slice(0, 2, "X/Y").type],
    bytes: [...new Uint8Array(await b.slice(0, 3).arrayBuffer())],
    file: [f.name, f.lastModified, f.type, f.size, f instanceof Blob, String(f), String(b)],
    bodyType: r.headers.get("content-type"), bodyText: await r.text(),
    back: [back.type, back.size],
    badType: new Blob([], { type: "a\u00e9" }).type,
    error,
    streamed: await new Response(new Blob(["via stream"]).stream()).text(),
  };
};

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path === "/redirect") return Response.redirect("https://example.com/elsewhere", 307);
    if (path === "/json") return Response.json({ z: 1, a: [true, null], s: "ü" }, { status: 202, headers: { "x-j": "1" } });
    if (path === "/throw") throw new Error("nope");
    const route = routes[path];
    if (!route) return new Response("not found", { status: 404 });
    return Response.json(await route(request));
  },
};

// AES-GCM: fixed key and IV so both runtimes give the same bytes; a round trip with
// additional data; a tampered ciphertext; wrong usages and sizes.
const bytesHex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const counting = (n, from = 0) => Uint8Array.from({ length: n }, (_, i) => (i + from) & 255);
routes["/aes-gcm"] = async () => {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", counting(32), { name: "AES-GCM" }, true, ["encrypt", "decrypt"]);
  const iv = counting(12, 100);
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: enc.encode("hdr") }, key, enc.encode("attack at dawn"));
  const opened = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: enc.encode("hdr") }, key, sealed);
  const tampered = new Uint8Array(sealed);
  tampered[0] ^= 1;
  const failures = [];
  for (const f of [
    () => crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: enc.encode("hdr") }, key, tampered),
    () => crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed),
    () => crypto.subtle.importKey("raw", counting(20), { name: "AES-GCM" }, false, ["encrypt"]),
    () => crypto.subtle.importKey("raw", counting(16), { name: "AES-GCM" }, false, ["sign"]),
    async () => crypto.subtle.encrypt({ name: "AES-GCM", iv }, await crypto.subtle.importKey("raw", counting(16), { name: "AES-GCM" }, false, ["decrypt"]), enc.encode("x")),
  ]) {
    try { await f(); failures.push("ok"); } catch (e) { failures.push(e.name); }
  }
  const k128 = await crypto.subtle.importKey("raw", counting(16), "AES-GCM", true, ["encrypt"]);
  const generated = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return {
    sealed: bytesHex(sealed),
    opened: new TextDecoder().decode(opened),
    sealed128: bytesHex(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, k128, enc.encode(""))),
    failures,
    algorithm: key.algorithm,
    usages: key.usages,
    generated: [generated.algorithm, generated.type, (await crypto.subtle.exportKey("raw", generated)).byteLength],
    jwk: [jwk.kty, jwk.alg, jwk.k, jwk.ext, jwk.key_ops],
  };
};

// PBKDF2 and HKDF: derived bits, derived keys, and the refusals.
routes["/derive"] = async () => {
  const enc = new TextEncoder();
  const password = await crypto.subtle.importKey("raw", enc.encode("correct horse"), "PBKDF2", false, ["deriveBits", "deriveKey"]);
  const pbkdf2 = await crypto.subtle.deriveBits({ name: "PBKDF2", salt: enc.encode("salt"), iterations: 1000, hash: "SHA-256" }, password, 256);
  const pbkdf2sha1 = await crypto.subtle.deriveBits({ name: "PBKDF2", salt: enc.encode("salt"), iterations: 2, hash: "SHA-1" }, password, 160);
  const ikm = await crypto.subtle.importKey("raw", counting(22), "HKDF", false, ["deriveBits", "deriveKey"]);
  const hkdf = await crypto.subtle.deriveBits({ name: "HKDF", salt: counting(13), info: counting(10, 240), hash: "SHA-256" }, ikm, 336);
  const aes = await crypto.subtle.deriveKey({ name: "PBKDF2", salt: enc.encode("s2"), iterations: 10, hash: "SHA-512" }, password, { name: "AES-GCM", length: 128 }, true, ["encrypt"]);
  const hmac = await crypto.subtle.deriveKey({ name: "HKDF", salt: new Uint8Array(0), info: enc.encode("mac"), hash: "SHA-384" }, ikm, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
  const refused = [];
  for (const f of [
    () => crypto.subtle.importKey("raw", enc.encode("x"), "PBKDF2", true, ["deriveBits"]),
    () => crypto.subtle.deriveBits({ name: "PBKDF2", salt: enc.encode("s"), iterations: 0, hash: "SHA-256" }, password, 128),
    () => crypto.subtle.deriveBits({ name: "PBKDF2", salt: enc.encode("s"), iterations: 1, hash: "SHA-256" }, password, 12),
    () => crypto.subtle.deriveBits({ name: "HKDF", salt: enc.encode("s"), info: enc.encode("i"), hash: "SHA-256" }, password, 128),
    () => crypto.subtle.importKey("raw", enc.encode("x"), "HKDF", false, ["encrypt"]),
  ]) {
    try { await f(); refused.push("ok"); } catch (e) { refused.push(e.name); }
  }
  return {
    pbkdf2: bytesHex(pbkdf2),
    pbkdf2sha1: bytesHex(pbkdf2sha1),
    hkdf: bytesHex(hkdf),
    aes: [aes.algorithm, bytesHex(await crypto.subtle.exportKey("raw", aes))],
    hmac: [hmac.algorithm, bytesHex(await crypto.subtle.exportKey("raw", hmac))],
    keyAlgorithms: [password.algorithm, ikm.algorithm, password.extractable, password.usages],
    refused,
  };
};

// Signing with private keys. Test-only keys made for these routes (openssl, exported
// by Node): PKCS#8 and JWK forms of one RSA-2048 and one P-256 key.
const PRIVATE = {"rsa": {"pkcs8": "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC4WaiKAVXg5mlWtmO3531ENAn2KQJNfuC2kDBa3heUBqi7TywILQB5bEwTvjSBYmDhzUKboKhjv31WJaK0g030+HTDR9mMs736jzEP5Ks8Ok+Wky97TAcVV3XhJ2mvIwP4l0kKd7RlrQpB7nhcluF9gYGrI6dqPJyinS7DJ0W+3VVgIvKSgcO6vy0KXUepWBX+vM6WKcMY9eFZfktlQJdWGUpI1KzXBLQ73MHYO6+r0AONu0aOPEh9+8IlaBX12sNuYToGtnShPC8CkNv7sFcVHZXgwa5B0AJXiNrjONtFdwlQ1oyKsqHKJILIP5fZ7TKFha0NjzI98Mrw/HYa1QNlAgMBAAECggEAEOTkI9PwGlGs3DqPuq+qR6dOaGW+si2X8bMW2b6NQgGdBR/B/o420ANwMpKVcWv7sLjxfmo2zeYjc5/nhr80h2gdHAF7VHOEy/yP98LL1hOj7b3xHBpnpcZWy629RJFv0KBdaOoQ0qaM3TKGiwZ0UkU3H5QylSZKPNuTVWTfQkvfdOfgUgtuDtdmU8Hq+Jex68c1aZFWdPzYXSBDeQIZ6VN88ipvenaIvAQCYV0CM31azCgUKpHNdOu0WynxGM6dWJgKor8aVaifqgamRXzDz6zg4vtU6sxo7M4pVE7WKV9/WHef4QkfcmJKKwCxGocfCvbsvgioD1pWWroMcYk5CwKBgQDiga/ExW9Hrasb8kAJbWV8r6Ysr/vTRI9Q7qtxU9WqBjq7thiPUcnxmnh+UQ40LkgsLzFn9iCGuz/BlXc/dkF8FwkmoAcriCbIutFQ9dEyM0ZcmECbqg5uKn/ypx4bhk7Wh1EJgxn0qzK/vYXDju1HxG+DbPtiSHMHQ/CyetNjYwKBgQDQWr4G4BBLJiBh5T+JqrAuLmk34S1rhpBA0i//7+Ph5nIR0Rdj3B+yq2tdgB6WKA6d9jhBQogzn4lZEdTOJWrEv0Jr0FqleMLJm0rKKmmNC/4mepd9MRbLECt9zVUuKVUwIhfASZM+Cl0UjJ0fCN3GnQKnKK666ip+CYQWKgxMlwKBgQDaON/C0ASaJjOIRSh07LSuH/wVaadQr+jzrD34fTCJEl9boeCfk8jfwFb+O9FXbI+UIhOTeYl0xMp0EzBEMAZ/KyJh2COQSSg0k+g9+9aEauoLI5R7ZKdqc/+5JFDZa9hgzxW/+FL1aksGd+17ryPj1Nkq4cB/vBU2lro6+iLWyQKBgFOna06FXeVeTHghvC4A6zXPio1WCo92eqqb+Yuv/HXxuXDv241LjyqEatoim6U8Ngo0FogVN2xKrLGnWCLgoQqXpAp3oD15y/N4N0IOX0yzOPqoE/S+5eDoAB5Fd+LN05c8yP56S/UH4jFi957DR4/78Fm/GtCPPjpWhcMEZOXHAoGBAKYCd9UM5ADOXuM8JgzjhhOXoH5RiE1w486zmFCjTIBi4kvS3EOf5hWL9lPkdnfwJUkSrdAgNSspJ67qQ9dCp+yswjcfwpTAGXYnGeviAE4D3lwTm6c4d72M8loby2BNkUemWdAzGPBnTbz8KdsIDKaKa63USy3oJ6/iYy3uf6p3", "jwk": {"kty": "RSA", "n": "uFmoigFV4OZpVrZjt-d9RDQJ9ikCTX7gtpAwWt4XlAaou08sCC0AeWxME740gWJg4c1Cm6CoY799ViWitINN9Ph0w0fZjLO9-o8xD-SrPDpPlpMve0wHFVd14SdpryMD-JdJCne0Za0KQe54XJbhfYGBqyOnajycop0uwydFvt1VYCLykoHDur8tCl1HqVgV_rzOlinDGPXhWX5LZUCXVhlKSNSs1wS0O9zB2Duvq9ADjbtGjjxIffvCJWgV9drDbmE6BrZ0oTwvApDb-7BXFR2V4MGuQdACV4ja4zjbRXcJUNaMirKhyiSCyD-X2e0yhYWtDY8yPfDK8Px2GtUDZQ", "e": "AQAB", "d": "EOTkI9PwGlGs3DqPuq-qR6dOaGW-si2X8bMW2b6NQgGdBR_B_o420ANwMpKVcWv7sLjxfmo2zeYjc5_nhr80h2gdHAF7VHOEy_yP98LL1hOj7b3xHBpnpcZWy629RJFv0KBdaOoQ0qaM3TKGiwZ0UkU3H5QylSZKPNuTVWTfQkvfdOfgUgtuDtdmU8Hq-Jex68c1aZFWdPzYXSBDeQIZ6VN88ipvenaIvAQCYV0CM31azCgUKpHNdOu0WynxGM6dWJgKor8aVaifqgamRXzDz6zg4vtU6sxo7M4pVE7WKV9_WHef4QkfcmJKKwCxGocfCvbsvgioD1pWWroMcYk5Cw", "p": "4oGvxMVvR62rG_JACW1lfK-mLK_700SPUO6rcVPVqgY6u7YYj1HJ8Zp4flEONC5ILC8xZ_Yghrs_wZV3P3ZBfBcJJqAHK4gmyLrRUPXRMjNGXJhAm6oObip_8qceG4ZO1odRCYMZ9Ksyv72Fw47tR8Rvg2z7YkhzB0PwsnrTY2M", "q": "0Fq-BuAQSyYgYeU_iaqwLi5pN-Eta4aQQNIv_-_j4eZyEdEXY9wfsqtrXYAeligOnfY4QUKIM5-JWRHUziVqxL9Ca9BapXjCyZtKyippjQv-JnqXfTEWyxArfc1VLilVMCIXwEmTPgpdFIydHwjdxp0CpyiuuuoqfgmEFioMTJc", "dp": "2jjfwtAEmiYziEUodOy0rh_8FWmnUK_o86w9-H0wiRJfW6Hgn5PI38BW_jvRV2yPlCITk3mJdMTKdBMwRDAGfysiYdgjkEkoNJPoPfvWhGrqCyOUe2SnanP_uSRQ2WvYYM8Vv_hS9WpLBnfte68j49TZKuHAf7wVNpa6Ovoi1sk", "dq": "U6drToVd5V5MeCG8LgDrNc-KjVYKj3Z6qpv5i6_8dfG5cO_bjUuPKoRq2iKbpTw2CjQWiBU3bEqssadYIuChCpekCnegPXnL83g3Qg5fTLM4-qgT9L7l4OgAHkV34s3TlzzI_npL9QfiMWL3nsNHj_vwWb8a0I8-OlaFwwRk5cc", "qi": "pgJ31QzkAM5e4zwmDOOGE5egflGITXDjzrOYUKNMgGLiS9LcQ5_mFYv2U-R2d_AlSRKt0CA1KyknrupD10Kn7KzCNx_ClMAZdicZ6-IATgPeXBObpzh3vYzyWhvLYE2RR6ZZ0DMY8GdNvPwp2wgMpoprrdRLLegnr-JjLe5_qnc"}}, "p256": {"pkcs8": "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUtskoupq2s8UEuHUidlbi8NO+osvmZ3uu1pUQZiymJehRANCAARgCQ+nMABPhHWRMRDe14gwJ+bL66shqmSAYVeqwEEQ2ikm/dZ2a0k5Kbees2VxQxq9Dpx3MZgjLvuQFhywh9/4", "jwk": {"kty": "EC", "x": "YAkPpzAAT4R1kTEQ3teIMCfmy-urIapkgGFXqsBBENo", "y": "KSb91nZrSTkpt56zZXFDGr0OnHcxmCMu-5AWHLCH3_g", "crv": "P-256", "d": "Utskoupq2s8UEuHUidlbi8NO-osvmZ3uu1pUQZiymJc"}}};
const b64bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
// The RSA PKCS#8 document, decoded once (an interpreted decode is ~10 ms of a debug
// build's 50 ms CPU limit per route).
let rsaPkcs8Bytes;
const rsaPkcs8 = () => (rsaPkcs8Bytes ??= b64bytes(PRIVATE.rsa.pkcs8));
const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const MSG = new TextEncoder().encode("outpost signs this");
// Ed25519 from a fixed seed: signatures are deterministic, so both runtimes agree.
routes["/sign-ed25519"] = async () => {
  const msg = MSG;
  const seed = counting(32, 7);
  const edPkcs8 = new Uint8Array([...fromHexString("302e020100300506032b657004220420"), ...seed]);
  const ed = await crypto.subtle.importKey("pkcs8", edPkcs8, { name: "Ed25519" }, true, ["sign"]);
  const edSig = await crypto.subtle.sign("Ed25519", ed, msg);
  const edBack = await crypto.subtle.exportKey("pkcs8", ed);
  const edPair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const edPairSig = await crypto.subtle.sign("Ed25519", edPair.privateKey, msg);
  const edPub = await crypto.subtle.exportKey("jwk", edPair.publicKey);
  const edPubAgain = await crypto.subtle.importKey("jwk", edPub, { name: "Ed25519" }, true, ["verify"]);
  return {
    ed: [bytesHex(edSig), bytesHex(edBack) === bytesHex(edPkcs8), ed.type, ed.algorithm, ed.usages],
    edPair: [edPair.publicKey.type, edPair.privateKey.type, edPair.publicKey.extractable, edPair.publicKey.usages, edPair.privateKey.usages, edPub.kty, edPub.crv,
      await crypto.subtle.verify("Ed25519", edPubAgain, edPairSig, msg)],
  };
};
// RSA: PKCS#1 v1.5 signatures are deterministic; PSS ones are checked by verifying.
routes["/sign-rsa"] = async () => {
  const msg = MSG;
  const rsaAlg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const rsa = await crypto.subtle.importKey("pkcs8", rsaPkcs8(), rsaAlg, false, ["sign"]);
  const rsaSig = await crypto.subtle.sign(rsaAlg, rsa, msg);
  const rsaPublic = await crypto.subtle.importKey("jwk", { kty: "RSA", n: PRIVATE.rsa.jwk.n, e: PRIVATE.rsa.jwk.e }, rsaAlg, false, ["verify"]);
  return [bytesHex(rsaSig), await crypto.subtle.verify(rsaAlg, rsaPublic, rsaSig, msg), rsa.algorithm, rsa.type];
};
routes["/sign-rsa-jwk-pss"] = async () => {
  const msg = MSG;
  const rsaAlg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const rsaJwk = await crypto.subtle.importKey("jwk", PRIVATE.rsa.jwk, rsaAlg, false, ["sign"]);
  const rsaJwkSig = await crypto.subtle.sign(rsaAlg, rsaJwk, msg);
  const pssAlg = { name: "RSA-PSS", hash: "SHA-256" };
  const pss = await crypto.subtle.importKey("pkcs8", rsaPkcs8(), pssAlg, false, ["sign"]);
  const pssSig = await crypto.subtle.sign({ name: "RSA-PSS", saltLength: 32 }, pss, msg);
  return [bytesHex(rsaJwkSig).slice(0, 32), pssSig.byteLength];
};
// ECDSA: random signatures, checked by verifying (and by their length).
routes["/sign-ecdsa"] = async () => {
  const msg = MSG;
  const ecAlg = { name: "ECDSA", namedCurve: "P-256" };
  const ecParams = { name: "ECDSA", hash: "SHA-256" };
  const ec = await crypto.subtle.importKey("pkcs8", b64bytes(PRIVATE.p256.pkcs8), ecAlg, false, ["sign"]);
  const ecJwk = await crypto.subtle.importKey("jwk", PRIVATE.p256.jwk, ecAlg, false, ["sign"]);
  const ecPublic = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: PRIVATE.p256.jwk.x, y: PRIVATE.p256.jwk.y }, ecAlg, true, ["verify"]);
  const ecSig = await crypto.subtle.sign(ecParams, ec, msg);
  const ecJwkSig = await crypto.subtle.sign(ecParams, ecJwk, msg);
  const refused = [];
  for (const f of [
    () => crypto.subtle.importKey("pkcs8", b64bytes(PRIVATE.p256.pkcs8), ecAlg, false, ["verify"]),
    () => crypto.subtle.exportKey("pkcs8", ec),
    () => crypto.subtle.sign(ecParams, ecPublic, msg),
    () => crypto.subtle.verify(ecParams, ec, ecSig, msg),
  ]) {
    try { await f(); refused.push("ok"); } catch (e) { refused.push(e.name); }
  }
  return {
    ec: [ecSig.byteLength, await crypto.subtle.verify(ecParams, ecPublic, ecSig, msg), await crypto.subtle.verify(ecParams, ecPublic, ecJwkSig, msg),
      (await crypto.subtle.exportKey("spki", ecPublic)).byteLength, bytesHex(await crypto.subtle.exportKey("raw", ecPublic)).length, (await crypto.subtle.exportKey("jwk", ecPublic)).x === PRIVATE.p256.jwk.x],
    refused,
  };
};
routes["/sign-p384-pair"] = async () => {
  const msg = MSG;
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, ["sign", "verify"]);
  const pairSig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-384" }, pair.privateKey, msg);
  return [pairSig.byteLength, await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-384" }, pair.publicKey, pairSig, msg), pair.publicKey.algorithm, (await crypto.subtle.exportKey("spki", pair.publicKey)).byteLength];
};
function fromHexString(hex) {
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

// Workers' crypto.DigestStream: the digest of everything written, once closed.
routes["/digest-stream"] = async () => {
  // (Kept small: debug builds run hooks under a 50 ms CPU limit, and this route
  // compiles the Streams code.)
  const stream = new crypto.DigestStream("SHA-256");
  const writer = stream.getWriter();
  await writer.write(new TextEncoder().encode("hello "));
  await writer.write(new Uint8Array([119, 111, 114, 108, 100]));
  await writer.close();
  const digest = await stream.digest;
  let refused;
  try { new crypto.DigestStream("SHA-3"); refused = "made"; } catch (e) { refused = e.name; }
  return {
    digest: bytesHex(digest),
    md5: bytesHex(await crypto.subtle.digest("MD5", new TextEncoder().encode("abc"))),
    shape: [stream instanceof WritableStream, typeof crypto.DigestStream, Object.keys(crypto).includes("DigestStream"), digest instanceof ArrayBuffer],
    refused,
  };
};

// URLPattern: construction, component strings, test/exec results and errors. Only
// what this workerd follows the current standard in: its constructor strings leave
// username/password/search/hash empty rather than "*", it gives "" for a group that
// did not take part and accepts an init dictionary with a base URL, where the standard
// (and Outpost) says "*", undefined and TypeError; those are checked from the
// standard's text in scripting/tests/standards/urlpattern.js.
routes["/urlpattern"] = async () => {
  const shown = (v) => JSON.stringify(v);
  const attempt = (f) => {
    try { return shown(f()); } catch (e) { return e.name; }
  };
  const parts = (p) => [p.protocol, p.hostname, p.port, p.pathname];
  const books = new URLPattern({ pathname: "/books/:id" });
  const digits = new URLPattern({ protocol: "https", hostname: "example.com", pathname: "/books/:id(\\d+)" });
  const hosts = new URLPattern({ hostname: "{*.}?example.com" });
  const files = new URLPattern({ pathname: "/static/*" });
  const repeated = new URLPattern({ pathname: "/tree/:path+" });
  const caseless = new URLPattern({ pathname: "/About" }, { ignoreCase: true });
  const full = new URLPattern("https://:sub.example.com:8080/a/*");
  const query = new URLPattern({ search: "q=:query&page=:n" });
  return {
    parts: [books, digits, hosts, files, full, query].map(parts),
    tests: [
      books.test("https://example.com/books/123"),
      books.test("https://example.com/books/"),
      digits.test("https://example.com/books/42"),
      digits.test("https://example.com/books/abc"),
      hosts.test("https://api.example.com/x"),
      hosts.test("https://example.com/x"),
      hosts.test("https://example.org/x"),
      caseless.test({ pathname: "/about" }),
      query.test("https://a.test/?q=shoes&page=2"),
      books.test("not a url"),
      books.test(),
      books.test("/books/9", "https://example.com"),
    ],
    execs: [
      books.exec("https://example.com/books/123?x#y"),
      files.exec({ pathname: "/static/css/site.css" }),
      repeated.exec({ pathname: "/tree/a/b/c" }),
      query.exec("https://a.test/?q=shoes&page=2"),
      books.exec("https://example.com/elsewhere"),
    ].map(shown),
    errors: [
      attempt(() => new URLPattern("/(")),
      attempt(() => new URLPattern("relative/:x")),
      attempt(() => books.exec("not a url")),
      attempt(() => new URLPattern({ pathname: "/:a/:a" })),
    ],
    shape: [typeof URLPattern, Object.keys(globalThis).includes("URLPattern")],
  };
};

// AES-CBC, AES-CTR and AES-KW at every key size, and key wrapping. (Three routes:
// debug builds run each request under a 50 ms CPU limit.)
const cipherKey = (bits, alg, usages) => crypto.subtle.importKey("raw", new Uint8Array(bits / 8).map((_, i) => i * 7 + 1), alg, true, usages);
const cipherText = new TextEncoder().encode("Outpost ciphers: more than sixteen bytes");
const cipherIv = new Uint8Array(16).map((_, i) => i);
const failureName = async (p) => { try { await p; return "ok"; } catch (e) { return e.name; } };
routes["/aes-cbc"] = async () => {
  const s = crypto.subtle;
  const out = {};
  for (const bits of [128, 192, 256]) {
    const cbc = await cipherKey(bits, "AES-CBC", ["encrypt", "decrypt"]);
    const c = await s.encrypt({ name: "AES-CBC", iv: cipherIv }, cbc, cipherText);
    out[`cbc${bits}`] = [bytesHex(c), new TextDecoder().decode(await s.decrypt({ name: "AES-CBC", iv: cipherIv }, cbc, c))];
  }
  out.errors = [
    await failureName(s.encrypt({ name: "AES-CBC", iv: new Uint8Array(8) }, await cipherKey(128, "AES-CBC", ["encrypt"]), cipherText)),
    await failureName(s.decrypt({ name: "AES-CBC", iv: cipherIv }, await cipherKey(128, "AES-CBC", ["decrypt"]), new Uint8Array(32))),
    await failureName(s.importKey("raw", new Uint8Array(20), "AES-CBC", false, ["encrypt"])),
  ];
  return out;
};
routes["/aes-ctr"] = async () => {
  const s = crypto.subtle;
  const out = {};
  for (const bits of [128, 192, 256]) {
    const ctr = await cipherKey(bits, "AES-CTR", ["encrypt", "decrypt"]);
    // The low 64 bits start at their maximum and wrap; the high ones stay.
    const counter = new Uint8Array(16).map((_, i) => (i < 8 ? i : 0xff));
    const t = await s.encrypt({ name: "AES-CTR", counter, length: 64 }, ctr, cipherText);
    const back = new Uint8Array(await s.decrypt({ name: "AES-CTR", counter, length: 64 }, ctr, t));
    const jwk = await s.exportKey("jwk", ctr);
    out[`ctr${bits}`] = [bytesHex(t), back.every((b, i) => b === cipherText[i]), jwk.alg, jwk.kty, jwk.key_ops];
  }
  const ctr = await cipherKey(128, "AES-CTR", ["encrypt"]);
  const near = new Uint8Array(16).fill(0xfe);
  out.narrow = bytesHex(await s.encrypt({ name: "AES-CTR", counter: near, length: 8 }, ctr, cipherText));
  out.errors = [await failureName(s.encrypt({ name: "AES-CTR", counter: near, length: 0 }, ctr, cipherText))];
  return out;
};
routes["/aes-wrap"] = async () => {
  const s = crypto.subtle;
  const out = {};
  // RFC 3394 §4.1: 128 bits of key data with a 128-bit KEK.
  const kek = await s.importKey("raw", fromHexString("000102030405060708090a0b0c0d0e0f"), "AES-KW", false, ["wrapKey", "unwrapKey"]);
  const inner = await s.importKey("raw", fromHexString("00112233445566778899aabbccddeeff"), "AES-CBC", true, ["encrypt"]);
  out.kw = bytesHex(await s.wrapKey("raw", inner, kek, "AES-KW"));
  const back = await s.unwrapKey("raw", fromHexString(out.kw), kek, "AES-KW", "AES-CBC", true, ["decrypt"]);
  out.unwrapped = [bytesHex(await s.exportKey("raw", back)), back.algorithm, back.usages];
  // A JWK wrapped with AES-GCM and back: the HMAC key signs the same.
  const hmac = await s.importKey("raw", new TextEncoder().encode("webhook secret"), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
  const gcm = await cipherKey(256, "AES-GCM", ["wrapKey", "unwrapKey"]);
  const giv = new Uint8Array(12).fill(3);
  const wrapped = await s.wrapKey("jwk", hmac, gcm, { name: "AES-GCM", iv: giv });
  const again = await s.unwrapKey("jwk", wrapped, gcm, { name: "AES-GCM", iv: giv }, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  out.jwkRoundTrip = bytesHex(await s.sign("HMAC", again, cipherText)) === bytesHex(await s.sign("HMAC", hmac, cipherText));
  out.errors = [
    await failureName(s.encrypt("AES-KW", kek, cipherText)),
    await failureName(s.importKey("raw", new Uint8Array(16), "AES-KW", false, ["encrypt"])),
    await failureName(s.wrapKey("raw", inner, await cipherKey(128, "AES-CBC", ["encrypt"]), { name: "AES-CBC", iv: cipherIv })),
  ];
  return out;
};
routes["/ecdh"] = async () => {
  const s = crypto.subtle;
  const failure = async (p) => { try { await p; return "ok"; } catch (e) { return e.name; } };
  const P256 = { name: "ECDH", namedCurve: "P-256" };
  const privA = await s.importKey("pkcs8", fromHexString("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104200cb565eac067862f45011b3fb629160654b8b5f51fcf363fa024b8208b243162a1440342000445888dd20d0cf068da86ec870ed33a598b1f79e532aefbf5877a2e7887890d963f5ccc8def85931bf93c95d006a36a5c8736b5fac6bdd15d44d9140d07d699a7"), P256, true, ["deriveBits", "deriveKey"]);
  const privB = await s.importKey("pkcs8", fromHexString("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420343e7f47d0b4a8e48dab10f7970ccdb4494917201a1987518e34d4ad15aa89efa14403420004ac7149628b83de49d7d3a3deb5f2c0625846106f44c5dd6495b2dccf24057e16d429219e4afcb64640a7559eb516ad938ee9af2413962b44ae6a1692000db1ef"), P256, false, ["deriveBits"]);
  const pubA = await s.importKey("raw", fromHexString("0445888dd20d0cf068da86ec870ed33a598b1f79e532aefbf5877a2e7887890d963f5ccc8def85931bf93c95d006a36a5c8736b5fac6bdd15d44d9140d07d699a7"), P256, true, []);
  const pubB = await s.importKey("raw", fromHexString("04ac7149628b83de49d7d3a3deb5f2c0625846106f44c5dd6495b2dccf24057e16d429219e4afcb64640a7559eb516ad938ee9af2413962b44ae6a1692000db1ef"), P256, true, []);
  const ab = await s.deriveBits({ name: "ECDH", public: pubB }, privA, 256);
  const ba = await s.deriveBits({ name: "ECDH", public: pubA }, privB, 256);
  const short = await s.deriveBits({ name: "ECDH", public: pubB }, privA, 100);
  const aes = await s.deriveKey({ name: "ECDH", public: pubB }, privA, { name: "AES-GCM", length: 128 }, true, ["encrypt"]);
  const pair = await s.generateKey({ name: "ECDH", namedCurve: "P-384" }, true, ["deriveBits"]);
  const own = await s.deriveBits({ name: "ECDH", public: pair.publicKey }, pair.privateKey, 384);
  const ecdsa = await s.importKey("raw", fromHexString("04ac7149628b83de49d7d3a3deb5f2c0625846106f44c5dd6495b2dccf24057e16d429219e4afcb64640a7559eb516ad938ee9af2413962b44ae6a1692000db1ef"), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  return {
    shared: bytesHex(ab),
    agree: bytesHex(ab) === bytesHex(ba),
    short: bytesHex(short),
    derived: bytesHex(await s.exportKey("raw", aes)),
    keys: [privA.algorithm, privA.usages, pubA.usages, privA.type, pubB.type],
    pair: [pair.publicKey.algorithm, pair.publicKey.usages, pair.privateKey.usages, own.byteLength],
    spki: bytesHex(await s.exportKey("spki", pubA)),
    jwk: await s.exportKey("jwk", pubB),
    errors: [
      await failure(s.deriveBits({ name: "ECDH", public: ecdsa }, privA, 256)),
      await failure(s.deriveBits({ name: "ECDH", public: pubB }, privA, 512)),
      await failure(s.importKey("raw", fromHexString("0445888dd20d0cf068da86ec870ed33a598b1f79e532aefbf5877a2e7887890d963f5ccc8def85931bf93c95d006a36a5c8736b5fac6bdd15d44d9140d07d699a7"), P256, true, ["deriveBits"])),
      await failure(s.deriveBits({ name: "ECDH", public: privB }, privA, 256)),
    ],
  };
};

// (A byte comparison cheaper than two hex strings: debug builds run routes under a
// 50 ms CPU limit.)
const sameBytes = (a, b) => {
  const x = new Uint8Array(a), y = new Uint8Array(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};
// Key export in every format: private keys as pkcs8 and jwk however they were
// imported, RSA public keys as spki and jwk.
// (RSA in two routes: a debug build's private-key import alone takes ~20 ms of the
// 50 ms CPU limit.)
routes["/export-rsa-private"] = async () => {
  const s = crypto.subtle;
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const fromPkcs8 = await s.importKey("pkcs8", rsaPkcs8(), alg, true, ["sign"]);
  const jwk = await s.exportKey("jwk", fromPkcs8);
  return {
    jwk: [Object.keys(jwk), jwk.alg, jwk.n === PRIVATE.rsa.jwk.n, jwk.d === PRIVATE.rsa.jwk.d, jwk.qi === PRIVATE.rsa.jwk.qi],
    pkcs8: sameBytes(await s.exportKey("pkcs8", fromPkcs8), rsaPkcs8()),
    raw: await s.exportKey("raw", fromPkcs8).then(() => "ok", (e) => e.name),
  };
};
routes["/export-rsa-public"] = async () => {
  const s = crypto.subtle;
  const pub = await s.importKey("jwk", { kty: "RSA", n: PRIVATE.rsa.jwk.n, e: PRIVATE.rsa.jwk.e }, { name: "RSA-PSS", hash: "SHA-384" }, true, ["verify"]);
  return {
    spki: bytesHex((await s.exportKey("spki", pub)).slice(0, 40)),
    publicJwk: await s.exportKey("jwk", pub),
    algorithm: pub.algorithm,
    raw: await s.exportKey("raw", pub).then(() => "ok", (e) => e.name),
  };
};
routes["/export-private"] = async () => {
  const s = crypto.subtle;
  const ec = { name: "ECDSA", namedCurve: "P-256" };
  const fromJwk = await s.importKey("jwk", PRIVATE.p256.jwk, ec, true, ["sign"]);
  const fromPkcs8 = await s.importKey("pkcs8", b64bytes(PRIVATE.p256.pkcs8), ec, true, ["sign"]);
  const ecJwk = await s.exportKey("jwk", fromPkcs8);
  const edPkcs8 = b64bytes("MC4CAQAwBQYDK2VwBCIEIFMqO+zflszhDpf+DQQoY2dTSfqR3dUhKIxRJDej8it8");
  const ed = await s.importKey("pkcs8", edPkcs8, "Ed25519", true, ["sign"]);
  const edJwk = await s.exportKey("jwk", ed);
  const edBack = await s.importKey("jwk", edJwk, "Ed25519", true, ["sign"]);
  return {
    ecJwk: [Object.keys(ecJwk), ecJwk.d === PRIVATE.p256.jwk.d, ecJwk.x === PRIVATE.p256.jwk.x],
    ecPkcs8FromJwk: (await s.exportKey("pkcs8", fromJwk)).byteLength > 0,
    edJwk: [Object.keys(edJwk), edJwk.crv, edJwk.alg],
    edPublicJwk: await s.exportKey("jwk", await s.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: edJwk.x }, "Ed25519", true, ["verify"])),
    edRoundTrip: bytesHex(await s.sign("Ed25519", edBack, MSG)) === bytesHex(await s.sign("Ed25519", ed, MSG)),
    edPkcs8FromJwk: sameBytes(await s.exportKey("pkcs8", edBack), edPkcs8),
  };
};
