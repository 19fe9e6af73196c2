// Differential test script (module form): the streaming patterns Workers scripts use.
// The origin's address arrives in the x-origin-url header.
const enc = new TextEncoder();

async function write(writable, parts) {
  const writer = writable.getWriter();
  for (const p of parts) {
    await new Promise((r) => setTimeout(r, 5));
    await writer.write(enc.encode(p));
  }
  await writer.close();
}

function chunked(parts) {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

export default {
  async fetch(request, env, ctx) {
    const origin = request.headers.get("x-origin-url");
    const path = new URL(request.url).pathname;
    if (path === "/transform") {
      // The script keeps writing after it has returned the response.
      const { readable, writable } = new TransformStream();
      ctx.waitUntil(write(writable, ["one ", "two ", "three"]));
      return new Response(readable, { headers: { "x-hook": "transform" } });
    }
    if (path === "/identity") {
      const { readable, writable } = new IdentityTransformStream();
      ctx.waitUntil(write(writable, ["id-a ", "id-b"]));
      return new Response(readable);
    }
    if (path === "/decoder") {
      const r = await fetch(`${origin}/big?bytes=5000`);
      let text = "";
      for await (const s of r.body.pipeThrough(new TextDecoderStream())) text += s;
      return Response.json({ length: text.length, start: text.slice(0, 10), used: r.bodyUsed });
    }
    if (path === "/uppercase") {
      const r = await fetch(`${origin}/big?bytes=3000`);
      const upper = new TransformStream({
        transform(chunk, controller) {
          const out = new Uint8Array(chunk.byteLength);
          for (let i = 0; i < chunk.byteLength; i++) {
            const b = chunk[i];
            out[i] = b >= 97 && b <= 122 ? b - 32 : b;
          }
          controller.enqueue(out);
        },
      });
      return new Response(r.body.pipeThrough(upper), { headers: { "content-type": "text/plain" } });
    }
    if (path === "/for-await") {
      let total = 0;
      let chunks = 0;
      for await (const chunk of request.body) {
        total += chunk.byteLength;
        chunks += chunk.byteLength > 0 ? 1 : 0;
      }
      return Response.json({ total, some: chunks > 0 });
    }
    if (path === "/tee") {
      const r = await fetch(`${origin}/big?bytes=2000`);
      const [a, b] = r.body.tee();
      const [x, y] = await Promise.all([new Response(a).text(), new Response(b).arrayBuffer()]);
      return Response.json({ x: x.length, y: y.byteLength, same: x === new TextDecoder().decode(y) });
    }
    if (path === "/text") {
      const text = await new Response(chunked(["a", "b", "c"])).text();
      const json = await new Response(chunked(['{"k":', "[1,2]}"])).json();
      const bytes = new Uint8Array(await new Response(chunked(["xyz"])).arrayBuffer());
      return Response.json({ text, json, bytes: Array.from(bytes) });
    }
    if (path === "/state") {
      const s = chunked(["q"]);
      const r = new Response(s);
      const out = { locked: s.locked, used: r.bodyUsed };
      await r.text();
      out.usedAfter = r.bodyUsed;
      try { await r.text(); out.again = "read"; } catch (e) { out.again = e.constructor.name; }
      try { new Response(s); out.reuse = "ok"; } catch (e) { out.reuse = e.constructor.name; }
      return Response.json(out);
    }
    if (path === "/byob") {
      let n = 0;
      const s = new ReadableStream({
        type: "bytes",
        pull(c) {
          const v = c.byobRequest.view;
          v[0] = 65 + n;
          c.byobRequest.respond(1);
          if (++n === 4) c.close();
        },
      });
      const reader = s.getReader({ mode: "byob" });
      let got = "";
      for (;;) {
        const { value, done } = await reader.read(new Uint8Array(8));
        if (done) break;
        got += new TextDecoder().decode(value);
      }
      return new Response(got);
    }
    if (path === "/rewrite") {
      const page = new Response(chunked(["<html><body><p>one</p>", "<p>two</p><", "p>three</p></body></html>"]), {
        headers: { "content-type": "text/html" },
      });
      const out = new HTMLRewriter()
        .on("p", {
          async element(e) {
            await new Promise((r) => setTimeout(r, 1));
            e.setAttribute("data-x", "1");
          },
        })
        .transform(page);
      return new Response(await out.text(), { headers: { "content-type": "text/html" } });
    }
    if (path === "/errored") {
      const s = new ReadableStream({
        start(c) {
          c.enqueue(enc.encode("partial"));
          c.error(new Error("boom"));
        },
      });
      try {
        await new Response(s).text();
        return new Response("no error");
      } catch (e) {
        return Response.json({ name: e.name, message: e.message });
      }
    }
    if (path.startsWith("/compression/")) {
      // One format per request: a debug build's interpreter is slow enough that all
      // of them together pass the 50 ms CPU limit.
      const f = path.slice("/compression/".length);
      const text = "hello stream ".repeat(10);
      if (f === "bad") {
        try {
          await new Response(new Response("not gzip at all").body.pipeThrough(new DecompressionStream("gzip"))).text();
          return new Response("decoded");
        } catch (e) {
          return new Response(e.constructor.name);
        }
      }
      if (f === "br") {
        try { new CompressionStream("br"); return new Response("ok"); } catch (e) { return new Response(e.constructor.name); }
      }
      const z = new Response(new Response(text).body.pipeThrough(new CompressionStream(f)));
      const bytes = new Uint8Array(await z.arrayBuffer());
      const back = await new Response(new Response(bytes).body.pipeThrough(new DecompressionStream(f))).text();
      return Response.json({ smaller: bytes.length < text.length, same: back === text });
    }
    return new Response("no route", { status: 404 });
  },
};
