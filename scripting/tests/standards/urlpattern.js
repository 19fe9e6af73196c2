// URLPattern conformance, written from the URL Pattern standard's text
// (https://urlpattern.spec.whatwg.org/). Each check names the section it comes from.
// Run by scripting/tests/web_standards.rs: the handler answers the list of failures.
export default {
  async fetch() {
    const failures = [];
    const check = (name, got, want) => {
      const g = JSON.stringify(got, (_, v) => (v === undefined ? "<undefined>" : v));
      const w = JSON.stringify(want, (_, v) => (v === undefined ? "<undefined>" : v));
      if (g !== w) failures.push(`${name}: got ${g}, want ${w}`);
    };
    const throws = (name, f) => {
      try { f(); failures.push(`${name}: did not throw`); } catch (e) {
        if (!(e instanceof TypeError)) failures.push(`${name}: threw ${e.name}, want TypeError`);
      }
    };
    const parts = (p) => [p.protocol, p.username, p.password, p.hostname, p.port, p.pathname, p.search, p.hash];

    // §1.1 (constructor): every component not given is the wildcard "*".
    check("empty init", parts(new URLPattern({})), ["*", "*", "*", "*", "*", "*", "*", "*"]);
    check("no argument", parts(new URLPattern()), ["*", "*", "*", "*", "*", "*", "*", "*"]);
    // §2.5 (parse a constructor string): a string with a protocol and host leaves the
    // components it does not mention as wildcards, except those before what it gives.
    check("constructor string", parts(new URLPattern("https://example.com:8080/foo?bar#baz")),
      ["https", "*", "*", "example.com", "8080", "/foo", "bar", "baz"]);
    check("relative string with base", parts(new URLPattern("/shop/:item", "https://example.com")),
      ["https", "*", "*", "example.com", "", "/shop/:item", "*", "*"]);
    // §1.1: a URLPatternInit together with a base URL is a TypeError.
    throws("init with baseURL", () => new URLPattern({ pathname: "/x" }, "https://example.com"));
    throws("relative string without base", () => new URLPattern("relative/:x"));
    throws("unbalanced group", () => new URLPattern("/("));
    throws("duplicate group name", () => new URLPattern({ pathname: "/:a/:a" }));
    // hasRegExpGroups: true only where a custom regular expression is used.
    check("hasRegExpGroups", [new URLPattern({ pathname: "/:id" }).hasRegExpGroups,
      new URLPattern({ pathname: "/:id(\\d+)" }).hasRegExpGroups], [false, true]);
    // §1.2 (match): a group that did not take part is undefined.
    const optional = new URLPattern({ pathname: "/foo/:bar?" }).exec({ pathname: "/foo" });
    check("unmatched optional group", optional.pathname, { input: "/foo", groups: { bar: undefined } });
    // Wildcards are numbered groups, named groups keep their names (in pattern order;
    // an object lists integer keys first).
    const mixed = new URLPattern({ pathname: "/:kind/*/:id/:x" }).exec({ pathname: "/a/b/c/d/e" });
    check("group order", Object.entries(mixed.pathname.groups), [["0", "b/c"], ["kind", "a"], ["id", "d"], ["x", "e"]]);
    // exec() returns the inputs as given: a string (and base), or the converted dictionary.
    const p = new URLPattern({ pathname: "/books/:id" });
    check("inputs of a string", p.exec("/books/1", "https://example.com").inputs, ["/books/1", "https://example.com"]);
    check("inputs of a dictionary", p.exec({ pathname: "/books/1", search: 7 }).inputs, [{ pathname: "/books/1", search: "7" }]);
    // An input that is not a URL does not match; a dictionary with a base URL throws.
    check("not a URL", p.exec("not a url"), null);
    check("test of not a URL", p.test("not a url"), false);
    throws("exec dictionary with baseURL", () => p.exec({ pathname: "/books/1" }, "https://example.com"));
    // ignoreCase (URLPatternOptions).
    check("ignoreCase", [new URLPattern({ pathname: "/About" }, { ignoreCase: true }).test({ pathname: "/about" }),
      new URLPattern({ pathname: "/About" }).test({ pathname: "/about" })], [true, false]);
    // Components are canonicalised before matching (§4.7): ports, default ports, case.
    check("default port", new URLPattern({ protocol: "https", port: "" }).test("https://example.com:443/"), true);
    check("hostname case", new URLPattern({ hostname: "example.com" }).test("https://EXAMPLE.com/"), true);
    // A custom regular expression constrains the segment.
    const digits = new URLPattern({ pathname: "/books/:id(\\d+)" });
    check("regexp group", [digits.test({ pathname: "/books/42" }), digits.test({ pathname: "/books/x" })], [true, false]);
    // The class as Web IDL makes it.
    check("not enumerable on the global", Object.keys(globalThis).includes("URLPattern"), false);
    return Response.json(failures);
  },
};
