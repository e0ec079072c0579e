#!/usr/bin/env python3
"""Task accuracy and corpus val bpb against LoRA rank, with full fine-tuning (and the start model) as
dashed lines: the figure of Lessons/13-lora.md. Reads chat-eval outputs (its markdown table) and each
run's log.jsonl (the last val_bpb record). Plain SVG, no dependencies; look at it with
`rsvg-convert -o fig.png fig.svg`.

    python3 tools/plot_lora.py --out fig.svg --rank 2=r2.txt,r2/log.jsonl --rank 8=... \\
        --full full.txt,full/log.jsonl --start mid.txt,1.93

--start takes the start model's chat-eval output and its val bpb as a number.
"""
import argparse
import json
import math
import re

from svgfile import write_svg  # tools/svgfile.py

ROW = re.compile(r"^\| (\w+) \| \d+% \((\d+)/(\d+)\)")
TASKS = ["arithmetic", "spelling", "counting", "choice"]
COLORS = {"arithmetic": "#1f77b4", "spelling": "#d62728", "counting": "#2ca02c", "choice": "#9467bd"}


def accuracy(path):
    acc = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if m := ROW.match(line):
                acc.setdefault(m.group(1), 100 * int(m.group(2)) / int(m.group(3)))
    return acc


def last_bpb(path):
    bpb = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if "val_bpb" in r:
                bpb = r["val_bpb"]
    return bpb


def pair(text):
    a, b = text.split(",", 1)
    return a, b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rank", action="append", default=[], help="R=EVAL.txt,LOG.jsonl")
    ap.add_argument("--full", required=True, help="EVAL.txt,LOG.jsonl of full fine-tuning")
    ap.add_argument("--start", help="EVAL.txt,BPB of the start model")
    a = ap.parse_args()

    ranks = []
    for spec in a.rank:
        r, files = spec.split("=", 1)
        ev, log = pair(files)
        ranks.append((int(r), accuracy(ev), last_bpb(log)))
    ranks.sort()
    ev, log = pair(a.full)
    full = (accuracy(ev), last_bpb(log))
    start = None
    if a.start:
        ev, bpb = pair(a.start)
        start = (accuracy(ev), float(bpb))

    W, H, pad = 900, 390, 60
    pw = (W - 3 * pad) / 2
    ph = H - 2 * pad - 30
    xs = [math.log2(r) for r, _, _ in ranks]
    x_lo, x_hi = min(xs) - 0.5, max(xs) + 0.5
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           'font-size="12">', f'<rect width="{W}" height="{H}" fill="white"/>']

    def panel(x0, title, ylo, yhi, yticks, series, dashed, ylabel):
        def X(v):
            return x0 + (v - x_lo) / (x_hi - x_lo) * pw

        def Y(v):
            return pad + (yhi - v) / (yhi - ylo) * ph
        out.append(f'<text x="{x0 + pw / 2}" y="{pad - 22}" text-anchor="middle" font-weight="bold">{title}</text>')
        out.append(f'<rect x="{x0}" y="{pad}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
        for t in yticks:
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{Y(t)}" y2="{Y(t)}" stroke="#eee"/>')
            out.append(f'<text x="{x0 - 6}" y="{Y(t) + 4}" text-anchor="end">{t:g}</text>')
        for (r, _, _), x in zip(ranks, xs):
            out.append(f'<text x="{X(x)}" y="{pad + ph + 18}" text-anchor="middle">{r}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{pad + ph + 38}" text-anchor="middle">LoRA rank (log scale)</text>')
        out.append(f'<text x="{x0 - 42}" y="{pad + ph / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 {x0 - 42} {pad + ph / 2})">{ylabel}</text>')
        for name, color, ys in series:
            pts = " ".join(f"{X(x)},{Y(y)}" for x, y in zip(xs, ys))
            out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
            for x, y in zip(xs, ys):
                out.append(f'<circle cx="{X(x)}" cy="{Y(y)}" r="3.5" fill="{color}"/>')
        for name, color, y, dash in dashed:
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{Y(y)}" y2="{Y(y)}" stroke="{color}" '
                       f'stroke-dasharray="{dash}" stroke-width="1.5"/>')
            out.append(f'<text x="{x0 + pw - 4}" y="{Y(y) - 4}" text-anchor="end" fill="{color}">{name}</text>')

    tasks = [t for t in TASKS if all(t in acc for _, acc, _ in ranks) and t in full[0]]
    lo = min([acc[t] for _, acc, _ in ranks for t in tasks] + [full[0][t] for t in tasks])
    ylo = max(0, 10 * math.floor((lo - 5) / 10))
    series = [(t, COLORS[t], [acc[t] for _, acc, _ in ranks]) for t in tasks]
    dashed = [("", COLORS[t], full[0][t], "6 4") for t in tasks]
    panel(pad, "Task accuracy (greedy, 500 per task); dashed: full SFT", ylo, 100,
          list(range(int(ylo), 101, 10)), series, dashed, "% right")
    for i, t in enumerate(tasks):
        out.append(f'<text x="{pad + 8 + 95 * i}" y="{pad + ph + 62}" fill="{COLORS[t]}">&#9679; {t}</text>')

    bpbs = [b for _, _, b in ranks] + [full[1]] + ([start[1]] if start else [])
    blo, bhi = math.floor(min(bpbs) * 4) / 4 - 0.25, math.ceil(max(bpbs) * 4) / 4 + 0.25
    ticks = [round(blo + 0.5 * k, 2) for k in range(int((bhi - blo) / 0.5) + 1)]
    dashed = [("full SFT", "#444", full[1], "6 4")]
    if start:
        dashed.append(("mid (start)", "#999", start[1], "2 3"))
    panel(2 * pad + pw, "Corpus val bpb after SFT (lower = less forgotten)", blo, bhi, ticks,
          [("LoRA", "#ff7f0e", [b for _, _, b in ranks])], dashed, "val bpb")
    write_svg(a.out, out)


if __name__ == "__main__":
    main()
