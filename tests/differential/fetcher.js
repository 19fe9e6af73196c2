// Differential test script (service-worker form): subrequests and what the script does
// with fetched responses. The origin's address arrives in the x-origin-url header.
addEventListener("fetch", (event) => {
  event.respondWith(handle(event.request));
});

async function handle(request) {
  const origin = request.headers.get("x-origin-url");
  const path = new URL(request.url).pathname;
  if (path === "/passthrough") {
    const r = await fetch(`${origin}/big?bytes=100000`);
    const out = new Response(r.body, r);
    out.headers.set("x-hook", "yes");
    return out;
  }
  if (path === "/read") {
    const r = await fetch(`${origin}/echo`, { method: "POST", body: "sent", headers: { "x-sent": "1" } });
    const text = await r.text();
    const [first] = text.split("\n");
    return Response.json({ status: r.status, ok: r.ok, first, sent: /x-sent: 1/.test(text), used: r.bodyUsed });
  }
  if (path === "/parallel") {
    const [a, b] = await Promise.all([fetch(`${origin}/slow?ms=50`), fetch(`${origin}/echo`)]);
    return Response.json({ a: await a.text(), b: (await b.text()).split("\n")[0] });
  }
  if (path === "/clone") {
    const r = await fetch(`${origin}/big?bytes=1000`);
    const c = r.clone();
    const [x, y] = [await r.text(), await c.arrayBuffer()];
    return Response.json({ x: x.length, y: y.byteLength });
  }
  return new Response("no route", { status: 404 });
}
