#!/usr/bin/env python3
"""report.py RESULTS.tsv OUT.md OUT.svg [NOTES.md]: the benchmark table with medians and
ratios, the issue's targets checked against them, a chart of `up -d` / `down` time against
stack size for each tool, and the hand-written notes (what limits each number) appended."""
import datetime
import platform
import subprocess
import sys
from collections import defaultdict

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
val = {(t, s, o): (float(v) if v not in ("", "nan") else None, u) for t, s, o, v, u in rows}
tools = ["builtin", "docker", "compose", "floor"]
names = {"builtin": "hoist built-in", "docker": "hoist --backend docker", "compose": "docker-compose 1.29", "floor": "engine floor (bollard)"}
keys = []
for t, s, o, _, _ in rows:
    if (s, o) not in keys:
        keys.append((s, o))


def get(t, s, o):
    return val.get((t, s, o), (None, ""))[0]


def fmt(v, unit):
    if v is None:
        return "–"
    return f"{v:,.0f} {unit}" if unit != "ms" else f"{v:,.0f} ms"


def ratio(a, b):
    return f"{b / a:.1f}×" if a and b else "–"


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "?"


out = ["# Benchmarks", "",
       f"Measured {datetime.date.today()} by `bench/run.sh` on {platform.node()} ({platform.machine()}, "
       f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores), "
       f"{version(['docker', 'version', '--format', 'Docker {{.Server.Version}}'])}, docker-compose {version(['docker-compose', 'version', '--short'])}.",
       "Medians of several repetitions; the ratio columns say how many times faster hoist is than docker-compose "
       "(the last column: hoist --backend docker's time over the engine floor's, 1.00 = no orchestration cost).", "",
       "| stack | operation | " + " | ".join(names[t] for t in tools) + " | compose / built-in | compose / hoist docker | hoist docker / floor |",
       "|---|---|" + "---|" * (len(tools) + 3)]
for s, o in keys:
    unit = next((val[(t, s, o)][1] for t in tools if (t, s, o) in val), "")
    cells = [fmt(get(t, s, o), unit) for t in tools]
    if unit == "ms":
        r1 = ratio(get("builtin", s, o), get("compose", s, o))
        r2 = ratio(get("docker", s, o), get("compose", s, o))
        d, f = get("docker", s, o), get("floor", s, o)
        r3 = f"{d / f:.2f}" if d and f else "–"
    else:
        r1 = r2 = r3 = "–"
    out.append(f"| {s} | {o} | " + " | ".join(cells) + f" | {r1} | {r2} | {r3} |")
# The targets of issue #8, checked against this run.
def target(label, measured, ok, shown):
    verdict = "–" if measured is None else ("met" if ok(measured) else "**not met**")
    out.append(f"| {label} | {shown(measured) if measured is not None else '–'} | {verdict} |")


def div(a, b):
    return a / b if a and b else None


out += ["", "## Targets", "", "| target | this run | |", "|---|---|---|"]
target("built-in `up -d`, 50 services: ≥ 20× faster than docker-compose", div(get("compose", "tiers50", "up -d (cold)"), get("builtin", "tiers50", "up -d (cold)")), lambda r: r >= 20, lambda r: f"{r:.1f}×")
target("built-in `down`, 50 services: ≥ 10× faster", div(get("compose", "tiers50", "down"), get("builtin", "tiers50", "down")), lambda r: r >= 10, lambda r: f"{r:.1f}×")
target("built-in `down` of the seed links stack < 1 s", get("builtin", "links", "down"), lambda v: v < 1000, lambda v: f"{v:,.0f} ms")
target("Docker backend `up -d`, 50 services: ≥ 2× faster than docker-compose", div(get("compose", "tiers50", "up -d (cold)"), get("docker", "tiers50", "up -d (cold)")), lambda r: r >= 2, lambda r: f"{r:.2f}×")
target("Docker backend `up -d`, 50 services: within 1.2× of the engine floor", div(get("docker", "tiers50", "up -d (cold)"), get("floor", "tiers50", "up -d (cold)")), lambda r: r <= 1.2, lambda r: f"{r:.2f}×")
target("Docker backend no-change `up -d`, 50 services ≤ 100 ms", get("docker", "tiers50", "up -d (no change)"), lambda v: v <= 100, lambda v: f"{v:,.0f} ms")
target("built-in `ps` with 100 containers ≤ 20 ms", get("builtin", "wide100", "ps"), lambda v: v <= 20, lambda v: f"{v:,.0f} ms")
target("`version` ≤ 5 ms", get("builtin", "-", "version"), lambda v: v <= 5, lambda v: f"{v:,.0f} ms")
target("`config -q` of 1000 services ≤ 50 ms", get("builtin", "config1000", "config -q"), lambda v: v <= 50, lambda v: f"{v:,.0f} ms")
for t in ("builtin", "docker"):
    target(f"`logs` ({names[t]}) ≥ 200k lines/s", get(t, "chatty20", "logs lines/s"), lambda v: v >= 200_000, lambda v: f"{v:,.0f} lines/s")
    target(f"`logs` ({names[t]}): no line lost (1,000,000)", get(t, "chatty20", "logs lines"), lambda v: v == 1_000_000, lambda v: f"{v:,.0f} lines")
out += ["", "![up and down time against stack size](benchmarks.svg)", ""]
try:
    out += ["", open(sys.argv[4]).read()]
except (IndexError, OSError):
    pass
open(sys.argv[2], "w").write("\n".join(out))

# The chart: x = number of services, y = ms, one polyline per tool and operation.
sizes = {"one": 1, "ten": 10, "tiers50": 50, "wide100": 100, "wide200": 200}
colors = {"builtin": "#1b9e77", "docker": "#7570b3", "compose": "#d95f02", "floor": "#666666"}
series = []
for t in tools:
    for o, dash in (("up -d (cold)", ""), ("down", "6,4")):
        pts = [(sizes[s], get(t, s, o)) for s in sizes if get(t, s, o) is not None]
        if pts:
            series.append((t, o, dash, pts))
W, H, L, B = 720, 420, 70, 50
ymax = max([p[1] for s in series for p in s[3]] + [1])
def x(n): return L + (W - L - 20) * (n / 200)
def y(v): return H - B - (H - B - 20) * (v / ymax)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="20" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<text x="{W/2}" y="{H-12}" text-anchor="middle">services in the stack</text>',
       f'<text x="16" y="{H/2}" transform="rotate(-90 16 {H/2})" text-anchor="middle">milliseconds</text>']
for n in sizes.values():
    svg.append(f'<text x="{x(n)}" y="{H-B+16}" text-anchor="middle">{n}</text>')
for i in range(5):
    v = ymax * i / 4
    svg.append(f'<text x="{L-6}" y="{y(v)+4}" text-anchor="end">{v:,.0f}</text>')
for k, (t, o, dash, pts) in enumerate(series):
    path = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in pts)
    svg.append(f'<polyline points="{path}" fill="none" stroke="{colors[t]}" stroke-width="2" stroke-dasharray="{dash}"/>')
    svg.append(f'<text x="{L+10}" y="{30+14*k}" fill="{colors[t]}">{names[t]} — {o}</text>')
svg.append("</svg>")
open(sys.argv[3], "w").write("\n".join(svg))
