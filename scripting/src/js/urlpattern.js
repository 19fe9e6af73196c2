// URLPattern (https://urlpattern.spec.whatwg.org/) as Workers have it: the class, its
// overloads and the shape of its results. Compiling and matching are native
// (`url_pattern.rs`, on the `urlpattern` crate). Runs before the prelude, which
// removes the host functions from the global object.
(() => {
  "use strict";
  const host = globalThis.__outpostHost;
  const COMPONENTS = ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"];

  // WebIDL's URLPatternInput: an object (or null/undefined) is a URLPatternInit
  // dictionary, anything else a USVString. A dictionary goes to the host as its eight
  // components then baseURL, each a string or undefined; `kept` is the converted
  // dictionary, which exec() returns in `inputs`.
  function convert(input) {
    if (input === undefined || input === null || typeof input === "object" || typeof input === "function") {
      const dict = input ?? {};
      const kept = {};
      // WebIDL reads a dictionary's members in lexicographic order.
      for (const name of ["baseURL", "hash", "hostname", "password", "pathname", "port", "protocol", "search", "username"]) {
        const value = dict[name];
        if (value !== undefined) kept[name] = String(value);
      }
      const parts = COMPONENTS.map((name) => kept[name]);
      parts.push(kept.baseURL);
      return { value: parts, kept };
    }
    const s = String(input);
    return { value: s, kept: s };
  }

  function options(value) {
    if (value === undefined || value === null) return false;
    if (typeof value !== "object" && typeof value !== "function") {
      throw new TypeError("Failed to construct 'URLPattern': The provided value is not of type 'URLPatternOptions'.");
    }
    return Boolean(value.ignoreCase);
  }

  class URLPattern {
    #pattern;
    #parts;
    #regexpGroups;
    constructor(input = undefined, baseURL = undefined, opts = undefined) {
      // The two overloads: (input, baseURL, options) and (input, options). A second
      // argument that is undefined, null or an object is the options dictionary.
      if (arguments.length < 3 && (baseURL === undefined || baseURL === null || typeof baseURL === "object")) {
        opts = baseURL;
        baseURL = undefined;
      }
      const ignoreCase = options(opts);
      const { value } = convert(input);
      if (baseURL !== undefined) baseURL = String(baseURL);
      if (baseURL !== undefined && typeof value !== "string") {
        throw new TypeError("Failed to construct 'URLPattern': a baseURL cannot be given with a URLPatternInit.");
      }
      const made = host.urlPattern(value, baseURL, ignoreCase);
      this.#pattern = made[0];
      this.#parts = made[1];
      this.#regexpGroups = made[2];
    }
    test(input = undefined, baseURL = undefined) {
      const { value } = convert(input);
      if (baseURL !== undefined) baseURL = String(baseURL);
      return host.urlPatternExec(this.#pattern, value, baseURL) !== null;
    }
    exec(input = undefined, baseURL = undefined) {
      const { value, kept } = convert(input);
      if (baseURL !== undefined) baseURL = String(baseURL);
      const found = host.urlPatternExec(this.#pattern, value, baseURL);
      if (found === null) return null;
      const result = { inputs: baseURL === undefined ? [kept] : [kept, baseURL] };
      for (let i = 0; i < 8; i++) {
        const entry = found[i], names = entry[1], values = entry[2];
        const groups = {};
        for (let j = 0; j < names.length; j++) groups[names[j]] = values[j];
        result[COMPONENTS[i]] = { input: entry[0], groups };
      }
      return result;
    }
    get protocol() { return this.#parts[0]; }
    get username() { return this.#parts[1]; }
    get password() { return this.#parts[2]; }
    get hostname() { return this.#parts[3]; }
    get port() { return this.#parts[4]; }
    get pathname() { return this.#parts[5]; }
    get search() { return this.#parts[6]; }
    get hash() { return this.#parts[7]; }
    get hasRegExpGroups() { return this.#regexpGroups; }
  }
  // (No toStringTag: workerd's classes print as [object Object].)
  Object.defineProperty(globalThis, "URLPattern", { value: URLPattern, writable: true, enumerable: false, configurable: true });
})();
