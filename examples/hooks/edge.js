// The quickstart's JS hook (bound to /api/* and /greet/* by rules/quickstart.yaml).
// /api/time answers at the edge; anything else under /greet/ is fetched through
// Outpost's cache and returned with an extra header, the body streamed untouched.
let served = 0;

export default {
  async fetch(request, env, ctx) {
    served += 1;
    const url = new URL(request.url);
    if (url.pathname === "/api/time") {
      return Response.json({
        now: new Date().toISOString(),
        id: crypto.randomUUID(),
        servedByThisThread: served,
        greeting: env.GREETING,
      });
    }
    // /greet/hello.txt -> /hello.txt, through the cache.
    url.pathname = url.pathname.replace(/^\/greet/, "");
    const response = await fetch(new Request(url, request));
    const out = new Response(response.body, response);
    out.headers.set("x-hook", "edge.js");
    return out;
  },
};
