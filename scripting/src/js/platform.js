// The rest of Workers' global scope, over the prelude's host calls (handed over as
// `__outpostPlatform`): the Cache API, timers, `scheduler`, `navigator`, `performance`,
// `self`, and KV namespaces.
(() => {
  "use strict";
  const { host, hostCall, toBytes, encoder, decoder, timers, nextId, now: lastIo, fromHost } = globalThis.__outpostPlatform;
  delete globalThis.__outpostPlatform;
  // What this file's constructors take from here; scripts calling them get a TypeError.
  const ILLEGAL = Symbol("illegal constructor");

  // The Cache API, as in Workers: caches.default is the node's own cache (an entry put
  // there is what a request for that URL is served from), caches.open(name) a cache
  // of its own. Each operation is a host fetch carrying the operation.
  function cacheKeyRequest(request) {
    return request instanceof Request ? request : new Request(request);
  }
  class Cache {
    #name;
    constructor(token, name) {
      if (token !== ILLEGAL) throw new TypeError("Illegal constructor");
      this.#name = name;
    }
    async match(request, options) {
      const req = cacheKeyRequest(request);
      if (req.method !== "GET" && !options?.ignoreMethod) return undefined;
      const parts = await hostCall((id) => host.fetch(id, req.url, "GET", req.headers, null, null, ["match", this.#name]));
      if (parts[0] === 404 && parts[2].has(CACHE_MISS)) return undefined;
      return fromHost(parts[0], parts[1], parts[2], parts[3], req.url, false);
    }
    async put(request, response) {
      const req = cacheKeyRequest(request);
      if (req.method !== "GET") throw new TypeError("Cannot cache response to non-GET request.");
      if (!(response instanceof Response)) throw new TypeError("Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.");
      if (response.status === 206) throw new TypeError("Cannot cache response to a range request (206 Partial Content).");
      if ((response.headers.get("vary") || "").split(",").some((v) => v.trim() === "*")) {
        throw new TypeError("Cannot cache response with 'Vary: *' header.");
      }
      if (response.bodyUsed) throw new TypeError("Response body is already used");
      const bytes = new Uint8Array(await response.arrayBuffer());
      await hostCall((id) => host.fetch(id, req.url, "GET", response.headers, bytes, null, ["put", this.#name, response.status]));
      return undefined;
    }
    async delete(request, options) {
      const req = cacheKeyRequest(request);
      if (req.method !== "GET" && !options?.ignoreMethod) return false;
      const parts = await hostCall((id) => host.fetch(id, req.url, "GET", req.headers, null, null, ["delete", this.#name]));
      return parts[0] === 200;
    }
  }
  const CACHE_MISS = "outpost-cache-miss";
  class CacheStorage {
    #default;
    constructor(token) {
      if (token !== ILLEGAL) throw new TypeError("Illegal constructor");
      this.#default = new Cache(ILLEGAL, "default");
    }
    get default() { return this.#default; }
    async open(name) {
      return new Cache(ILLEGAL, String(name));
    }
  }
  globalThis.Cache = Cache;
  globalThis.CacheStorage = CacheStorage;
  globalThis.caches = new CacheStorage(ILLEGAL);

  // Timers: bounded by the host (at most 30 s, and only while the request or its
  // waitUntil work is alive).
  globalThis.setTimeout = function setTimeout(fn, ms = 0, ...args) {
    if (typeof fn !== "function") throw new TypeError("setTimeout needs a function");
    const id = nextId();
    timers.set(id, () => fn(...args));
    host.timer(id, Math.max(0, Number(ms) || 0));
    return id;
  };
  globalThis.clearTimeout = function clearTimeout(id) {
    if (timers.delete(id)) host.cancelTimer(id);
  };
  // An interval re-arms its timer under the same id after each run (at least 1 ms
  // apart, so an interval of 0 cannot spin); the same 30 s bound applies to each wait.
  globalThis.setInterval = function setInterval(fn, ms = 0, ...args) {
    if (typeof fn !== "function") throw new TypeError("setInterval needs a function");
    const id = nextId();
    const every = Math.max(1, Number(ms) || 0);
    const tick = () => {
      timers.set(id, tick);
      host.timer(id, every);
      fn(...args);
    };
    timers.set(id, tick);
    host.timer(id, every);
    return id;
  };
  globalThis.clearInterval = function clearInterval(id) {
    if (timers.delete(id)) host.cancelTimer(id);
  };
  for (const name of ["setTimeout", "clearTimeout", "setInterval", "clearInterval"]) {
    Object.defineProperty(globalThis, name, { enumerable: false });
  }

  // Workers' scheduler: `await scheduler.wait(ms)` is a setTimeout as a promise.
  class Scheduler {
    constructor(token) { if (token !== ILLEGAL) throw new TypeError("Illegal constructor"); }
    wait(ms, options = undefined) {
      const signal = options?.signal;
      return new Promise((resolve, reject) => {
        if (signal?.aborted) { reject(signal.reason); return; }
        const id = setTimeout(resolve, ms);
        signal?.addEventListener("abort", () => { clearTimeout(id); reject(signal.reason); }, { once: true });
      });
    }
  }
  // navigator and performance as Workers have them: the user agent Workers report,
  // one CPU, and a clock whose origin is 0 (performance.now() is Date.now(): the time
  // of the last I/O).

  class Navigator {
    constructor(token) { if (token !== ILLEGAL) throw new TypeError("Illegal constructor"); }
    get userAgent() { return "Cloudflare-Workers"; }
    get hardwareConcurrency() { return 1; }
    get language() { return "en"; }
    get languages() { return ["en"]; }
  }
  class Performance {
    constructor(token) { if (token !== ILLEGAL) throw new TypeError("Illegal constructor"); }
    get timeOrigin() { return 0; }
    now() { return lastIo(); }
    toJSON() { return { timeOrigin: 0 }; }
  }
  for (const [name, C, instance] of [["navigator", Navigator, new Navigator(ILLEGAL)], ["performance", Performance, new Performance(ILLEGAL)], ["scheduler", Scheduler, new Scheduler(ILLEGAL)]]) {
    // (No toStringTag: workerd's print as [object Object].)
    Object.defineProperty(globalThis, C.name, { value: C, writable: true, enumerable: false, configurable: true });
    Object.defineProperty(globalThis, name, { value: instance, writable: true, enumerable: true, configurable: true });
  }

  // Workers' global scope is a ServiceWorkerGlobalScope: `self` is the global object.
  Object.defineProperty(globalThis, "self", { value: globalThis, writable: true, enumerable: true, configurable: true });

  // KV namespaces: env.NAME.get/put/delete/list, as in Workers KV.
  Object.defineProperty(globalThis, "__outpostKvNamespace", {
    value(ns) {
      return {
        async get(key, options) {
          const type = typeof options === "string" ? options : options?.type ?? "text";
          const bytes = await hostCall((id) => host.kv(id, ns, "get", String(key), null, null));
          if (bytes === null) return null;
          switch (type) {
            case "text": return decoder.decode(bytes);
            case "json": return JSON.parse(decoder.decode(bytes));
            case "arrayBuffer": return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
            case "stream": return new Response(bytes).body;
            default: throw new TypeError(`unknown KV get type ${type}`);
          }
        },
        async put(key, value, options = {}) {
          const bytes = typeof value === "string" ? encoder.encode(value) : toBytes(value);
          const ttl = options?.expirationTtl;
          const at = options?.expiration;
          let expires = null;
          if (ttl !== undefined) {
            if (!(Number(ttl) >= 60)) throw new TypeError("KV put: expirationTtl must be at least 60 seconds");
            expires = Date.now() / 1000 + Number(ttl);
          } else if (at !== undefined) {
            expires = Number(at);
          }
          await hostCall((id) => host.kv(id, ns, "put", String(key), bytes, expires));
        },
        async delete(key) {
          await hostCall((id) => host.kv(id, ns, "delete", String(key), null, null));
        },
        async list(options = {}) {
          const prefix = options?.prefix === undefined ? "" : String(options.prefix);
          const limit = options?.limit === undefined ? 1000 : Math.min(1000, Number(options.limit));
          const cursor = options?.cursor === undefined ? "" : String(options.cursor);
          return hostCall((id) => host.kv(id, ns, "list", prefix, cursor, limit));
        },
      };
    },
  });
})();
