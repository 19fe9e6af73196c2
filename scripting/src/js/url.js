// URLSearchParams (URL Standard §6.2) and the URL's `searchParams` that stays in step
// with its query (boa_runtime's URL has none). Parsing and serialising are native
// (`urlencoded.rs`: the standard's application/x-www-form-urlencoded). Runs before the
// prelude, which removes the host functions from the global object.
(() => {
  "use strict";
  const host = globalThis.__outpostHost;
  const search = Object.getOwnPropertyDescriptor(URL.prototype, "search");
  const href = Object.getOwnPropertyDescriptor(URL.prototype, "href");
  const owned = new WeakMap();
  let attach, reparse;

  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = "") {
      if (init !== null && (typeof init === "object" || typeof init === "function")) {
        if (typeof init[Symbol.iterator] === "function") {
          // sequence<sequence<USVString>>: every item a pair.
          for (const pair of init) {
            const p = pair !== null && typeof pair === "object" ? [...pair] : null;
            if (p === null || p.length !== 2) throw new TypeError("Failed to construct 'URLSearchParams': Sequence initializer must only contain pair elements");
            this.#list.push([String(p[0]), String(p[1])]);
          }
        } else {
          // record<USVString, USVString>: own enumerable string keys, in order.
          for (const key of Reflect.ownKeys(init)) {
            if (typeof key !== "string") continue;
            const desc = Reflect.getOwnPropertyDescriptor(init, key);
            if (desc !== undefined && desc.enumerable) this.#list.push([key, String(init[key])]);
          }
        }
      } else {
        let s = String(init);
        if (s.startsWith("?")) s = s.slice(1);
        this.#list = host.formDecode(s);
      }
    }
    static {
      attach = (params, url) => { params.#url = url; };
      reparse = (params, query) => { params.#list = host.formDecode(query.startsWith("?") ? query.slice(1) : query); };
    }
    // The update steps: the URL's query becomes the serialisation (none when empty).
    #changed() {
      if (this.#url === null) return;
      const q = this.toString();
      search.set.call(this.#url, q);
    }
    get size() { return this.#list.length; }
    append(name, value) { this.#list.push([String(name), String(value)]); this.#changed(); }
    delete(name, value) {
      name = String(name);
      if (value === undefined) this.#list = this.#list.filter((p) => p[0] !== name);
      else { value = String(value); this.#list = this.#list.filter((p) => p[0] !== name || p[1] !== value); }
      this.#changed();
    }
    get(name) {
      name = String(name);
      for (const p of this.#list) if (p[0] === name) return p[1];
      return null;
    }
    getAll(name) { name = String(name); return this.#list.filter((p) => p[0] === name).map((p) => p[1]); }
    has(name, value) {
      name = String(name);
      if (value === undefined) return this.#list.some((p) => p[0] === name);
      value = String(value);
      return this.#list.some((p) => p[0] === name && p[1] === value);
    }
    set(name, value) {
      name = String(name); value = String(value);
      const i = this.#list.findIndex((p) => p[0] === name);
      if (i < 0) this.#list.push([name, value]);
      else { this.#list[i] = [name, value]; this.#list = this.#list.filter((p, j) => p[0] !== name || j === i); }
      this.#changed();
    }
    // Stable, by code units of the names.
    sort() { this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this.#changed(); }
    forEach(f, self) { for (const [k, v] of this.#list) f.call(self, v, k, this); }
    *entries() { for (const [k, v] of this.#list) yield [k, v]; }
    *keys() { for (const [k] of this.#list) yield k; }
    *values() { for (const [, v] of this.#list) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return host.formEncode(this.#list.flat()); }
  }
  // (No toStringTag: workerd's classes print as [object Object].)
  Object.defineProperty(globalThis, "URLSearchParams", { value: URLSearchParams, writable: true, enumerable: false, configurable: true });

  // One URLSearchParams per URL, the same object on every read; setting the URL's
  // search or href parses its list again.
  Object.defineProperties(URL.prototype, {
    searchParams: {
      configurable: true,
      enumerable: true,
      get() {
        let params = owned.get(this);
        if (params === undefined) {
          params = new URLSearchParams(search.get.call(this));
          attach(params, this);
          owned.set(this, params);
        }
        return params;
      },
    },
    search: {
      configurable: true,
      enumerable: true,
      get: search.get,
      set(value) {
        search.set.call(this, value);
        const params = owned.get(this);
        if (params !== undefined) reparse(params, search.get.call(this));
      },
    },
    href: {
      configurable: true,
      enumerable: true,
      get: href.get,
      set(value) {
        href.set.call(this, value);
        const params = owned.get(this);
        if (params !== undefined) reparse(params, search.get.call(this));
      },
    },
  });
})();
