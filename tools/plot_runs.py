#!/usr/bin/env python3
"""Greedy validation pass@1 of several runs in one SVG, against optimizer steps and against tokens
sampled, read from their log.jsonl files (chat-rl and chat-distill write both the step records, with
"sampled", and the pass@1 records). Plain SVG, no dependencies; look at it with
`rsvg-convert -o fig.png fig.svg`.

    python3 tools/plot_runs.py --task arithmetic --out fig.svg \\
        "on-policy distillation=runs/e2-on/distill/log.jsonl" "RL=runs/e2-rl/rl/log.jsonl"

A pass@1 record without a "task" is chat-rl's (arithmetic). The step-0 point is the starting model.
"""
import argparse
import json
import math
import sys

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def read(path, task):
    """[(step, pass1)] and {step: tokens sampled up to and including that step}."""
    passes, sampled, total = [], {0: 0}, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if "pass1" in r and r.get("task", "arithmetic") == task:
                passes.append((r["step"], r["pass1"]))
            elif "sampled" in r:
                total += r["sampled"]
                sampled[r["step"]] = total
    return passes, sampled


def nice_step(raw):
    """The round tick spacing (1, 2 or 5 times a power of ten) nearest above `raw`."""
    p = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * p for m in (1, 2, 5, 10) if m * p >= raw)


def panel(x0, y0, w, h, series, xlabel, xmax, ymin):
    """One plot's SVG elements: axes, ticks, a polyline with markers per series."""
    out = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/>']
    def sx(x): return x0 + w * x / xmax
    def sy(y): return y0 + h * (1 - (y - ymin) / (1 - ymin))
    for k in range(6):
        y = ymin + (1 - ymin) * k / 5
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{sy(y) + 4:.1f}" font-size="11" text-anchor="end">{100 * y:.0f}%</text>')
    tick = nice_step(xmax / 5)
    for k in range(int(xmax / tick) + 1):
        x = k * tick
        label = f"{x:,.0f}"
        out.append(f'<text x="{sx(x):.1f}" y="{y0 + h + 16}" font-size="11" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 34}" font-size="12" text-anchor="middle">{xlabel}</text>')
    for i, (name, pts) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        p = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{p}" fill="none" stroke="{c}" stroke-width="2"/>')
        out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{c}"/>' for x, y in pts]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="NAME=path/to/log.jsonl")
    ap.add_argument("--task", default="arithmetic")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    by_step, by_tokens = [], []
    for spec in args.runs:
        name, _, path = spec.partition("=")
        if not path:
            sys.exit(f"give NAME=path, not '{spec}'")
        passes, sampled = read(path, args.task)
        if not passes:
            sys.exit(f"{path}: no pass@1 records for {args.task}")
        by_step.append((name, passes))
        by_tokens.append((name, [(sampled.get(s, 0), p) for s, p in passes if s in sampled]))
    ymin = max(0.0, min(p for _, pts in by_step for _, p in pts) - 0.05)
    ymin = int(ymin * 20) / 20
    steps = max(s for _, pts in by_step for s, _ in pts)
    tokens = max(max(t for t, _ in pts) for _, pts in by_tokens) or 1
    W, H = 920, 360 + 20 * len(by_step)
    title = args.title or f"{args.task}: greedy pass@1 on the validation problems"
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" font-size="15" text-anchor="middle">{title}</text>']
    svg += panel(60, 40, 370, 270, by_step, "optimizer steps", steps, ymin)
    svg += panel(520, 40, 370, 270, by_tokens, "tokens sampled (by whoever samples)", tokens, ymin)
    for i, (name, _) in enumerate(by_step):
        y = 370 + 20 * i
        svg.append(f'<rect x="60" y="{y - 6}" width="14" height="4" fill="{COLORS[i % len(COLORS)]}"/>')
        svg.append(f'<text x="80" y="{y}" font-size="12">{name}</text>')
    svg.append("</svg>")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
