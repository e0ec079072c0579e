#!/usr/bin/env python3
"""Draws the lessons' diagrams as SVG files in Lessons/figures/ (no dependencies).

Each diagram is a function that returns SVG text; run this script after changing one and look at
the result (rsvg-convert FILE.svg -o FILE.png). The diagrams illustrate code, they hold no
measured figures. (Lessons/figures/05-post-training-map.svg is written by hand; the other figures
there are plots made by `nanochat report` and tools/plot_*.py.)

  00-pipeline.svg     the stages of ./run.sh and the folders they write
  02-causal-mask.svg  which scores attention computes: the causal mask and its row blocks
  02-rotary.svg       rotary embeddings: one channel pair of q and k, rotated by their positions
  07-sft-mask.svg     which tokens of a conversation SFT trains (the loss mask)
  08-kv-cache.svg     prefill and decode through the KV cache
  09-rl-loop.svg      one step of RL: sample a group, grade, advantages, weighted loss
  11-distill-loop.svg one step of on-policy distillation: the student samples, the teacher scores each token

Usage: python3 tools/draw_diagrams.py [--out Lessons/figures]
"""

import argparse
import os

FONT = 'font-family="Helvetica, Arial, sans-serif"'


def svg(width, height, body, title):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {FONT} font-size="13">\n'
            f'<rect width="{width}" height="{height}" fill="white"/>\n'
            f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{title}</text>\n'
            + body + '</svg>\n')


def box(x, y, w, h, fill, stroke, lines, bold_first=True, size=12):
    out = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{stroke}"/>']
    top = y + h / 2 - (len(lines) - 1) * (size + 3) / 2 + size / 3
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if bold_first and i == 0 else ''
        out.append(f'<text x="{x + w / 2}" y="{top + i * (size + 3)}" text-anchor="middle" '
                   f'font-size="{size}"{weight}>{line}</text>')
    return '\n'.join(out) + '\n'


ARROW_DEF = ('<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>\n')


def arrow(x1, y1, x2, y2):
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#444" stroke-width="1.5" marker-end="url(#a)"/>\n'


def pipeline():
    stages = [("1 tokenizer", "tok-train", "out/tokenizer"), ("2 pretraining", "base-train", "out/base"),
              ("3 base eval", "base-eval", "bpb, samples"), ("4 mid-training", "mid-train", "out/mid"),
              ("5 SFT", "chat-sft", "out/sft"), ("6 RL", "chat-rl", "out/rl"),
              ("7 distillation", "chat-distill", "out/distill"), ("8 chat eval", "chat-eval", "eval.jsonl"),
              ("report", "report", "out/report")]
    body, x, w, gap = ARROW_DEF, 15, 104, 18
    for i, (name, cmd, folder) in enumerate(stages):
        body += box(x, 50, w, 62, "#dbe9f6", "#3b6ea5", [name, cmd, folder])
        if i + 1 < len(stages):
            body += arrow(x + w, 81, x + w + gap, 81)
        x += w + gap
    body += ('<text x="15" y="140" font-size="12">Each stage reads the folder of the one before and writes its own; '
             './run.sh marks a finished stage in out/.done/ and resumes an interrupted one (lesson 10).</text>\n')
    return svg(x - gap + 15, 160, body, "The pipeline of ./run.sh")


def causal_mask():
    T, cell, x0, y0 = 8, 26, 70, 70
    body = ''
    for panel, blocks in enumerate([None, 4]):
        px = x0 + panel * (T * cell + 150)
        for t in range(T):
            for t2 in range(T):
                visible = t2 <= t
                computed = visible if blocks is None else t2 < (t // blocks + 1) * blocks
                fill = "#3b6ea5" if visible else ("#f3c6c6" if computed else "#f4f4f4")
                body += (f'<rect x="{px + t2 * cell}" y="{y0 + t * cell}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="{fill}"/>\n')
        label = ("the mask: query t sees keys t2 ≤ t" if blocks is None
                 else f"computed in row blocks of {blocks} (64 in the code)")
        body += f'<text x="{px + T * cell / 2}" y="{y0 - 12}" text-anchor="middle">{label}</text>\n'
        body += (f'<text x="{px - 10}" y="{y0 + T * cell / 2}" text-anchor="end" font-size="12">query t ↓</text>\n'
                 f'<text x="{px + T * cell / 2}" y="{y0 + T * cell + 18}" text-anchor="middle" '
                 f'font-size="12">key t2 →</text>\n')
    legend_y = y0 + T * cell + 45
    body += (f'<rect x="70" y="{legend_y}" width="14" height="14" fill="#3b6ea5"/>'
             f'<text x="90" y="{legend_y + 12}">score used by the softmax</text>\n'
             f'<rect x="300" y="{legend_y}" width="14" height="14" fill="#f3c6c6"/>'
             f'<text x="320" y="{legend_y + 12}">computed, then zeroed</text>\n'
             f'<rect x="500" y="{legend_y}" width="14" height="14" fill="#f4f4f4"/>'
             f'<text x="520" y="{legend_y + 12}">skipped</text>\n')
    return svg(2 * (T * cell + 150) + 40, legend_y + 35, body, "Causal attention: which scores exist")


def rotary():
    import math
    body, r = ARROW_DEF, 95
    theta = math.radians(22)  # one pair's angle per position, for the picture
    for panel, (m, n, label) in enumerate([(3, 1, "q at position 3, k at position 1"),
                                          (7, 5, "q at position 7, k at position 5")]):
        cx, cy = 150 + panel * 330, 170
        body += (f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="#ddd"/>'
                 f'<line x1="{cx - r - 10}" y1="{cy}" x2="{cx + r + 10}" y2="{cy}" stroke="#ddd"/>'
                 f'<line x1="{cx}" y1="{cy - r - 10}" x2="{cx}" y2="{cy + r + 10}" stroke="#ddd"/>\n')
        for pos, color, name, base in ((m, "#3b6ea5", "q", 0.35), (n, "#b03a3a", "k", 0.0)):
            a = base + pos * theta
            x, y = cx + r * math.cos(a), cy - r * math.sin(a)
            body += (f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="{color}" stroke-width="2.5" '
                     f'marker-end="url(#a)"/><text x="{cx + (r + 16) * math.cos(a):.1f}" '
                     f'y="{cy - (r + 16) * math.sin(a) + 4:.1f}" text-anchor="middle" fill="{color}">{name}</text>\n')
        a0, a1 = n * theta, 0.35 + m * theta
        x0, y0 = cx + 40 * math.cos(a0), cy - 40 * math.sin(a0)
        x1, y1 = cx + 40 * math.cos(a1), cy - 40 * math.sin(a1)
        body += (f'<path d="M{x0:.1f},{y0:.1f} A40,40 0 0,0 {x1:.1f},{y1:.1f}" fill="none" stroke="#444"/>'
                 f'<text x="{cx}" y="{cy + r + 34}" text-anchor="middle">{label}</text>\n')
    body += ('<text x="20" y="330">Each pair of channels (x1[j], x2[j]) turns by θ_j per position. Moving both '
             'tokens four positions on</text>\n<text x="20" y="348">turns both vectors by the same angle: the angle '
             'between them, and so their dot product,</text>\n<text x="20" y="366">depends only on the distance '
             't − t2 (here 2 positions in both panels).</text>\n')
    return svg(660, 385, body, "Rotary embeddings: the score depends on the distance (lesson 02)")


def sft_mask():
    tokens = [("&lt;|bos|&gt;", 0), ("&lt;|user_start|&gt;", 0), ("What is 37 times 12?", 0), ("&lt;|user_end|&gt;", 0),
              ("&lt;|assistant_start|&gt;", 0), ("Let me calculate.", 1), ("&lt;|python_start|&gt;", 1),
              ("37*12", 1), ("&lt;|python_end|&gt;", 1), ("&lt;|output_start|&gt;444&lt;|output_end|&gt;", 0),
              ("#### 444", 1), ("&lt;|assistant_end|&gt;", 1)]
    body, x, y = '', 15, 60
    for text, w in tokens:
        width = 14 + 7.0 * len(text.replace("&lt;", "<").replace("&gt;", ">"))
        if x + width > 880:
            x, y = 15, y + 58
        fill, stroke = ("#fbe5e5", "#b03a3a") if w else ("#eeeeee", "#999")
        body += (f'<rect x="{x}" y="{y}" width="{width}" height="28" rx="4" fill="{fill}" stroke="{stroke}"/>'
                 f'<text x="{x + width / 2}" y="{y + 18}" text-anchor="middle" font-size="11.5">{text}</text>'
                 f'<text x="{x + width / 2}" y="{y + 44}" text-anchor="middle" font-size="11" fill="#555">'
                 f'weight {w}</text>\n')
        x += width + 6
    y += 75
    body += (f'<text x="15" y="{y}">SFT trains only what the assistant writes (weight 1): its words, its tool call and its '
             f'final answer.</text>\n<text x="15" y="{y + 18}">The question, the special tokens before the answer and '
             f'the calculator\'s output (forced by the engine, not chosen) get weight 0.</text>\n')
    return svg(915, y + 35, body, "The SFT loss mask (lesson 07)")


def kv_cache():
    body, cell, x0 = ARROW_DEF, 30, 150
    rows = [("layer 1 keys", "#dbe9f6"), ("layer 1 values", "#dbe9f6"), ("…", "white"),
            ("layer L keys", "#dbe9f6"), ("layer L values", "#dbe9f6")]
    prompt, new = 6, 3
    for r, (name, _) in enumerate(rows):
        y = 60 + r * 34
        body += f'<text x="{x0 - 10}" y="{y + 20}" text-anchor="end">{name}</text>\n'
        if name == "…":
            continue
        for p in range(prompt + new + 3):
            fill = "#3b6ea5" if p < prompt else ("#e8a33d" if p < prompt + new else "#f4f4f4")
            body += f'<rect x="{x0 + p * cell}" y="{y}" width="{cell - 3}" height="26" fill="{fill}"/>\n'
    y = 60 + len(rows) * 34 + 10
    body += (f'<text x="{x0 + prompt * cell / 2}" y="{y + 10}" text-anchor="middle">prefill: the prompt in one pass</text>\n'
             f'<text x="{x0 + (prompt + new / 2) * cell}" y="{y + 28}" text-anchor="middle">decode: one position per step</text>\n'
             f'<text x="{x0 + (prompt + new + 1.5) * cell}" y="{y + 10}" text-anchor="middle" fill="#777">free</text>\n')
    body += (f'<text x="20" y="{y + 60}">Each new token computes its own keys and values, appends them, and attends</text>\n'
             f'<text x="20" y="{y + 78}">over everything stored: one position of work per token instead of the whole</text>\n'
             f'<text x="20" y="{y + 96}">sequence again. In memory, each head\'s positions lie one after the other (lesson 15).</text>\n')
    return svg(760, y + 118, body, "The KV cache (lesson 08)")


def sampling_loop(title, width, top, loss, step, back_x, caption, caption_y):
    """The loop RL and distillation share: a row of boxes joined left to right (y 60, height 60), a loss
    box under the last, an optimizer-step box to its left, and an arrow back up to the first box.
    top: (x, w, fill, stroke, lines) each; loss: (x, y, w, h, lines, size); step: (x, y, w, h, lines)."""
    body = ARROW_DEF
    for x, w, fill, stroke, lines in top:
        body += box(x, 60, w, 60, fill, stroke, lines)
    lx, ly, lw, lh, llines, lsize = loss
    sx, sy, sw, sh, slines = step
    body += box(lx, ly, lw, lh, "#fbe5e5", "#b03a3a", llines, size=lsize)
    body += box(sx, sy, sw, sh, "#ece4f6", "#6c4ba5", slines)
    body += "".join(arrow(x + w, 90, nx, 90) for (x, w, *_), (nx, *_) in zip(top, top[1:]))
    mid, last = ly + lh / 2, top[-1][0] + top[-1][1] / 2
    body += arrow(f"{last:g}", 120, f"{last:g}", ly) + arrow(lx, f"{mid:g}", sx + sw, f"{mid:g}")
    body += (f'<path d="M{sx},{mid:g} L{back_x},{mid:g} L{back_x},120" stroke="#444" stroke-width="1.5" '
             'fill="none" marker-end="url(#a)"/>\n')
    body += "".join(f'<text x="20" y="{caption_y + 18 * i}">{line}</text>\n' for i, line in enumerate(caption))
    return svg(width, caption_y + 18 * (len(caption) - 1) + 20, body, title)


def rl_loop():
    return sampling_loop(
        "One step of RL (lesson 09)", 840,
        [(20, 150, "#eeeeee", "#666", ["8 prompts", "\"What is 37 times 12?\""]),
         (220, 170, "#dbe9f6", "#3b6ea5", ["sample G = 8 answers", "to each, temperature 1"]),
         (440, 150, "#fff2cc", "#b58900", ["grade each", "reward 1 or 0"]),
         (640, 180, "#e8f4e8", "#3c8d3c", ["advantages", "reward − group mean"])],
        (640, 170, 180, 70, ["weighted loss", "−advantage · log p(token)", "on sampled tokens only"], 12),
        (330, 170, 200, 70, ["one optimizer step", "then the next prompts"]), 120,
        ["A group whose answers all got the same reward has zero advantages and is skipped. Distillation (lesson 11)",
         "runs the same loop with the teacher in place of the grader and no group baseline: each sampled token",
         "gets the weight log p_teacher − log p_student."], 275)


def distill_loop():
    return sampling_loop(
        "One step of on-policy distillation (lesson 11)", 900,
        [(20, 160, "#eeeeee", "#666", ["8 prompts", "spelling, counting, choice"]),
         (230, 180, "#dbe9f6", "#3b6ea5", ["the student samples", "4 answers to each"]),
         (460, 170, "#fff2cc", "#b58900", ["the teacher reads them", "one forward, no sampling"]),
         (680, 200, "#e8f4e8", "#3c8d3c", ["per sampled token:", "log p_teacher − log p_student"])],
        (680, 170, 200, 78, ["student's loss", "that weight · log p(token)", "or (--exact-kl) the KL over",
                             "the whole vocabulary"], 11),
        (370, 174, 200, 70, ["one optimizer step", "of the student only"]), 130,
        ["The loop of RL (lesson 09) with the grader replaced by a teacher: every sampled token gets its own signal,",
         "the reverse KL to the teacher, where RL gives one reward per answer. The student learns on its own samples",
         "(on-policy); --off-policy trains on the teacher's samples instead, which is SFT on them."], 280)


DIAGRAMS = {"00-pipeline.svg": pipeline, "02-causal-mask.svg": causal_mask, "02-rotary.svg": rotary, "07-sft-mask.svg": sft_mask,
            "08-kv-cache.svg": kv_cache, "09-rl-loop.svg": rl_loop, "11-distill-loop.svg": distill_loop}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Lessons", "figures"))
    args = ap.parse_args()
    for name, draw in DIAGRAMS.items():
        path = os.path.join(args.out, name)
        with open(path, "w") as f:
            f.write(draw())
        print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
