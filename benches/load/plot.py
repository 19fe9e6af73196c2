#!/usr/bin/env python3
"""Plots benches/load/cost-curve.sh's CSV as an SVG (no dependencies beyond Python):
RSS and per-entry overhead against cached entries (log scale), HIT p99 on the right.

usage: plot.py INPUT.csv OUTPUT.svg
"""
import csv
import math
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
W, H, L, R, T, B = 640, 360, 70, 70, 30, 50
xs = [math.log10(int(r["entries"])) for r in rows]
x0, x1 = math.floor(min(xs)), math.ceil(max(xs))


def X(v):
    return L + (v - x0) / max(x1 - x0, 1) * (W - L - R)


def series(key, top):
    return [(X(x), H - B - float(r[key]) / top * (H - T - B)) for x, r in zip(xs, rows)]


rss_top = max(float(r["rss_mib"]) for r in rows) * 1.15
p99_top = max(float(r["hit_p99_ms"]) for r in rows) * 1.15 or 1
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">Outpost memory tier: RSS and HIT p99 by cached objects</text>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{W-R}" y1="{T}" x2="{W-R}" y2="{H-B}" stroke="black"/>']
for e in range(x0, x1 + 1):
    out.append(f'<text x="{X(e)}" y="{H-B+16}" text-anchor="middle">{10**e:,}</text>')
for i in range(5):
    v = rss_top * i / 4
    y = H - B - i / 4 * (H - T - B)
    out.append(f'<text x="{L-6}" y="{y+4}" text-anchor="end" fill="#1f5fbf">{v:.0f}</text>')
    out.append(f'<text x="{W-R+6}" y="{y+4}" fill="#bf5f1f">{p99_top*i/4:.1f}</text>')
out.append(f'<text x="{W/2}" y="{H-12}" text-anchor="middle">cached objects (log scale)</text>')
out.append(f'<text x="16" y="{H/2}" transform="rotate(-90 16 {H/2})" text-anchor="middle" fill="#1f5fbf">RSS (MiB)</text>')
out.append(f'<text x="{W-14}" y="{H/2}" transform="rotate(90 {W-14} {H/2})" text-anchor="middle" fill="#bf5f1f">HIT p99 (ms)</text>')
for key, top, colour in (("rss_mib", rss_top, "#1f5fbf"), ("hit_p99_ms", p99_top, "#bf5f1f")):
    pts = series(key, top)
    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"/>')
    for (x, y), r in zip(pts, rows):
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
for (x, y), r in zip(series("rss_mib", rss_top), rows):
    out.append(f'<text x="{x:.1f}" y="{y-8:.1f}" text-anchor="middle" font-size="10">{r["overhead_bytes_per_entry"]} B/entry overhead</text>')
out.append("</svg>")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
