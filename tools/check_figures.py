#!/usr/bin/env python3
"""Checks that the figures and transcripts quoted in Lessons/ and README.md are what the code prints.

Every output block in a lesson names its source in an HTML comment on the line before it (invisible
when the Markdown is rendered):

  <!-- from: log -->             the block's lines appear, in order, in the default run's console output
                                 (RUN/run.log: what ./run.sh printed)
  <!-- from: file PATH -->       ... in the file RUN/PATH (report/report.md, base/log.jsonl, ...)
  <!-- from: rerun -->           the block's `$ ` command lines are run again (bash, from the repository
                                 root, `nanochat` meaning .build/release/nanochat, NANOCHAT_OUT a scratch
                                 copy of RUN, so that nothing they write reaches the run itself) and
                                 the other lines must appear, in order, in what they print
  <!-- from: rerun, decimals vary -->   the same, with every decimal compared as "#" (timing columns)
  <!-- not checked: WHY -->      a block that cannot be checked (a benchmark's timings), and why

A block is the fenced code block, or the Markdown table, that follows the comment. Lines that are only
"..." or "…" mark cuts and are skipped; a line ending in "…" matches any line that starts with the rest.
Colours and repeated spaces are ignored, and the run's folder is written `out` (as ./run.sh names it).
In reruns only, numbers with a unit of time, speed or memory (12.7 s, 2467 tok/s, 699 MB) are compared as
"#": they vary from run to run, and nothing else should. A rerun block that fails is tried once more after
the rest of its file, so a lesson may use a folder that a later block of it makes.

Figures in prose are listed in a comment inside their paragraph:

  <!-- figures from log: 1.9805, 1.9912 -->        (or: from file PATH)

and each must occur in that source (figures are separated by a comma and a space: 1,003 is one). Every fenced block that shows a `$ ` command must carry one of
the comments above, so no transcript goes unchecked by accident.

  python3 tools/check_figures.py --run /work/runs/full      lists every mismatch; exit 1 if any
  options: --no-rerun (skip the reruns), --only FILE (one lesson), --verbose (every block's result)
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = re.compile(r"^<!-- (from: (log|file (\S+)|rerun|rerun, decimals vary)|not checked: .+) -->\s*$")
FIGS = re.compile(r"<!-- figures from (log|file (\S+)): ([^>]*) -->")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMING = re.compile(r"\d[\d,]*(\.\d+)?(e-?\d+)? ?(ms|µs|us|s|m\d+s|tok/s|tokens/s|MB/s|GB/s|GFLOP/s|MB|GB|x)\b")
DECIMAL = re.compile(r"\b\d+\.\d+(e-?\d+)?\b")


RUN_PATHS = []  # the run's absolute folder and its scratch copy, both written "out" in the lessons (main)


def norm(line, mask=False, decimals=False):
    line = ANSI.sub("", line).replace("\t", " ")
    for path in RUN_PATHS:
        line = line.replace(path, "out")
    line = re.sub(r" +", " ", line).strip()
    if mask:
        line = TIMING.sub("#", line)
    return DECIMAL.sub("#", line) if decimals else line


def blocks(path):
    """(line number, marker, block lines) for each marked block, plus unmarked command blocks (marker None)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i, pending = [], 0, None
    while i < len(lines):
        m = MARK.match(lines[i].strip())
        if m:
            pending = (i + 1, m.group(1))
            i += 1
            continue
        if lines[i].startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body = lines[i + 1 : j]
            if pending:
                out.append((pending[0], pending[1], body))
            elif any(l.startswith("$ ") for l in body):
                out.append((i + 1, None, body))
            pending, i = None, j + 1
            continue
        if lines[i].startswith("|") and pending:
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.append((pending[0], pending[1], lines[i:j]))
            pending, i = None, j
            continue
        if lines[i].strip() and pending and not lines[i].startswith("<!--"):
            pending = None  # a marker must sit right before its block
        i += 1
    return out


def expected(body, mask, decimals=False):
    """The lines a block claims, normalised: no commands, no cuts, no table rules."""
    want = []
    for l in body:
        s = norm(l, mask, decimals)
        if not s or s in ("...", "…") or s.startswith("$ ") or re.fullmatch(r"\|[-| :]+\|", s):
            continue
        want.append(s)
    return want


def find_in_order(want, have):
    """The first claimed line missing from `have` (searching on from the previous match), or None."""
    k = 0
    for w in want:
        prefix = w[:-1].rstrip() if w.endswith("…") else None
        while k < len(have) and not (have[k] == w or (prefix is not None and have[k].startswith(prefix))):
            k += 1
        if k == len(have):
            return w
        k += 1
    return None


def rerun(body, run, binary):
    """Runs a block's commands; returns their output lines (stdout and stderr, in order)."""
    out = []
    for l in body:
        if not l.startswith("$ "):
            continue
        cmd = re.sub(r"(^|[|;&] *)nanochat ", lambda m: m.group(1) + binary + " ", l[2:])
        env = dict(os.environ, NANOCHAT_OUT=run)
        r = subprocess.run(
            ["bash", "-c", cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=900)
        out += r.stdout.replace("\r", "\n").split("\n")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="the default run's folder (./run.sh --out DIR)")
    ap.add_argument("--log", help="its console output (default RUN/run.log)")
    ap.add_argument("--no-rerun", action="store_true")
    ap.add_argument("--only")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    run = os.path.abspath(a.run)
    RUN_PATHS.append(run)
    # Reruns write (chat-eval appends to eval.jsonl, which the report reads): they run on a scratch copy.
    scratch = None
    if not a.no_rerun:
        scratch = tempfile.mkdtemp(prefix="check-figures-")
        shutil.copytree(run, scratch + "/run", symlinks=True, ignore=shutil.ignore_patterns("optim.safetensors"))
        RUN_PATHS.insert(0, scratch + "/run")
    binary = os.path.join(ROOT, ".build/release/nanochat")
    log_path = a.log or os.path.join(run, "run.log")
    sources = {}

    def source(kind, path):
        key = log_path if kind == "log" else os.path.join(run, path)
        if key not in sources:
            try:
                text = open(key, encoding="utf-8", errors="replace").read().replace("\r", "\n")
            except OSError as e:
                sys.exit(f"check_figures: cannot read {key}: {e.strerror}. Give --run the default run's folder.")
            sources[key] = [norm(l) for l in text.split("\n")]
        return sources[key]

    files = [a.only] if a.only else sorted(glob.glob(os.path.join(ROOT, "Lessons/*.md"))) + [
        os.path.join(ROOT, "README.md")
    ]
    counts = {"blocks": 0, "reruns": 0, "figures": 0, "unchecked": 0}
    problems = []
    for path in files:
        rel = os.path.relpath(path, ROOT)
        retry = []
        for line, marker, body in blocks(path) + [(None, None, None)]:
            if line is None:  # the end of the file: the failed reruns once more
                for line, marker, body in retry:
                    dec = marker.endswith("decimals vary")
                    have = [norm(l, True, dec) for l in rerun(body, RUN_PATHS[0], binary)]
                    missing = find_in_order(expected(body, True, dec), have)
                    if missing is not None:
                        problems.append(f"{rel}:{line} ({marker}): not found (in order): {missing!r}")
                    elif a.verbose:
                        print(f"ok  {rel}:{line} ({marker}, on the second try)")
                break
            where = f"{rel}:{line}"
            if marker is None:
                problems.append(f"{where}: a block with a `$ ` command but no <!-- from: ... --> comment")
                continue
            if marker.startswith("not checked"):
                counts["unchecked"] += 1
                continue
            if marker.startswith("from: rerun"):
                if a.no_rerun:
                    continue
                counts["reruns"] += 1
                dec = marker.endswith("decimals vary")
                have = [norm(l, True, dec) for l in rerun(body, RUN_PATHS[0], binary)]
                missing = find_in_order(expected(body, True, dec), have)
                if missing is not None:
                    retry.append((line, marker, body))
                    continue
            else:
                counts["blocks"] += 1
                have = source("log", None) if marker == "from: log" else source("file", marker.split()[2])
                missing = find_in_order(expected(body, mask=False), have)
            if missing is not None:
                problems.append(f"{where} ({marker}): not found (in order): {missing!r}")
            elif a.verbose:
                print(f"ok  {where} ({marker}, {len(expected(body, False))} lines)")
        text = open(path, encoding="utf-8").read()
        for m in FIGS.finditer(text):
            line = text[: m.start()].count("\n") + 1
            have = "\n".join(source("log", None) if m.group(1) == "log" else source("file", m.group(2)))
            for fig in [f.strip() for f in re.split(r",\s+", m.group(3)) if f.strip()]:
                counts["figures"] += 1
                if fig not in have:
                    problems.append(f"{rel}:{line}: figure {fig!r} does not occur in {m.group(1)}")
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    for p in problems:
        print("MISMATCH " + p)
    print(
        f"check_figures: {counts['blocks']} blocks from the run, {counts['reruns']} reruns, {counts['figures']} "
        f"figures in prose checked against {run}; {counts['unchecked']} blocks marked not checked; "
        f"{len(problems)} mismatches"
    )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
