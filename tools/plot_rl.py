#!/usr/bin/env python3
"""RL runs side by side over their steps: the fraction of sampled answers graded right, and the mean
length of a sampled answer in tokens: the figure of Lessons/14-reasoning.md (R1-Zero from mid against
SFT + RL). Reads each run's log.jsonl (chat-rl's step records: `accuracy`, or `reward` when the run
has no format reward; `sampled`, the tokens sampled in the step). Curves are moving averages over
10 steps, as the report's. Plain SVG, no dependencies; look at it with `rsvg-convert -o f.png f.svg`.

    python3 tools/plot_rl.py --out fig.svg --run "SFT + RL=out/rl/log.jsonl" \\
        --run "RL from mid=out/rl-zero/log.jsonl" [--answers 64]

--answers: sampled answers per step (chat-rl's --prompts × --samples; 64 by default).
"""
import argparse
import json

from svgfile import write_svg  # tools/svgfile.py

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def steps(path):
    """[(step, fraction right, tokens sampled)] from a chat-rl log."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if "reward" in r and "step" in r:
                rows.append((r["step"], r.get("accuracy", r["reward"]), r.get("sampled")))
    return rows


def smooth(ys, n=10):
    out = []
    for i in range(len(ys)):
        window = ys[max(0, i - n + 1):i + 1]
        out.append(sum(window) / len(window))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--run", action="append", required=True, help="LABEL=LOG.jsonl")
    ap.add_argument("--answers", type=int, default=64)
    a = ap.parse_args()
    runs = []
    for spec in a.run:
        label, path = spec.split("=", 1)
        runs.append((label, steps(path)))

    W, H, pad = 900, 380, 60
    pw = (W - 3 * pad) / 2
    ph = H - 2 * pad - 40
    x_hi = max(s for _, rows in runs for s, _, _ in rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           'font-size="12">', f'<rect width="{W}" height="{H}" fill="white"/>']

    def panel(x0, title, yhi, ytick, series, ylabel):
        def X(v):
            return x0 + v / x_hi * pw

        def Y(v):
            return pad + (yhi - v) / yhi * ph
        out.append(f'<text x="{x0 + pw / 2}" y="{pad - 22}" text-anchor="middle" font-weight="bold">{title}</text>')
        out.append(f'<rect x="{x0}" y="{pad}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
        t = 0
        while t <= yhi + 1e-9:
            out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{Y(t)}" y2="{Y(t)}" stroke="#eee"/>')
            out.append(f'<text x="{x0 - 6}" y="{Y(t) + 4}" text-anchor="end">{t:g}</text>')
            t = round(t + ytick, 6)
        for s in range(0, x_hi + 1, 20):
            out.append(f'<text x="{X(s)}" y="{pad + ph + 18}" text-anchor="middle">{s}</text>')
        out.append(f'<text x="{x0 + pw / 2}" y="{pad + ph + 36}" text-anchor="middle">RL step</text>')
        out.append(f'<text x="{x0 - 42}" y="{pad + ph / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 {x0 - 42} {pad + ph / 2})">{ylabel}</text>')
        for color, xs, ys in series:
            pts = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in zip(xs, ys))
            out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')

    acc = [(COLORS[i], [s for s, _, _ in rows], smooth([100 * r for _, r, _ in rows]))
           for i, (_, rows) in enumerate(runs)]
    panel(pad, "Sampled answers graded right (%, 10-step mean)", 100, 20, acc, "% right")
    lengths = [(COLORS[i], [s for s, _, t in rows if t is not None],
                smooth([t / a.answers for _, _, t in rows if t is not None]))
               for i, (_, rows) in enumerate(runs)]
    top = max([max(ys) for _, _, ys in lengths if ys] + [10])
    panel(2 * pad + pw, "Mean sampled answer length (tokens, 10-step mean)", 10 * (int(top / 10) + 1), 10,
          lengths, "tokens")
    for i, (label, _) in enumerate(runs):
        out.append(f'<text x="{pad + 8 + 210 * i}" y="{H - 12}" fill="{COLORS[i]}">&#9679; {label}</text>')
    write_svg(a.out, out)


if __name__ == "__main__":
    main()
