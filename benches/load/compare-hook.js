// The header-rewrite hook of benches/load/compare.sh (nginx: add_header; Varnish: VCL).
export default {
  async fetch(request) {
    const r = await fetch(request);
    const out = new Response(r.body, r);
    out.headers.set("x-edge", "outpost-bench");
    return out;
  },
};
