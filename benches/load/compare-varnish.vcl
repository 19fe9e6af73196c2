# Varnish for benches/load/compare.sh (@ORIGIN@ is filled in by the script). The
# built-in VCL does the caching (RFC lifetimes; no-store is not cached).
vcl 4.1;
backend default { .host = "127.0.0.1"; .port = "@ORIGIN@"; }
sub vcl_deliver {
  if (req.url ~ "^/hook/") { set resp.http.X-Edge = "outpost-bench"; }
}
