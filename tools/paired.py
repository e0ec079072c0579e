#!/usr/bin/env python3
"""Paired comparison of two checkpoints on the same test questions, as Lessons/09-rl.md section 8 does
by hand: which questions only A gets wrong, which only B, and an exact sign test (McNemar) on them.

    nanochat chat-eval --checkpoint A --tasks all --count 100 --show-wrong 100000 > a.txt
    nanochat chat-eval --checkpoint B --tasks all --count 100 --show-wrong 100000 > b.txt
    python3 tools/paired.py a.txt b.txt [--names SFT RL]

Questions are matched by their text (a question asked twice in one set counts twice). Only the
disagreements carry information about the difference: with b questions wrong only for A and c only
for B, the paired standard error of the accuracy difference is sqrt(b + c)/n, and the sign test asks
how likely a split at least as uneven as b : c is when each disagreement is a fair coin.
"""
import argparse
import math
import re
import sys
from collections import Counter

ROW = re.compile(r"^\| (\w+) \| \d+% \((\d+)/(\d+)\)")
HEAD = re.compile(r"^(\w+): (\d+) of (\d+) wrong answers")


def read(path):
    """{task: (right, total, Counter of wrong questions)} from chat-eval --show-wrong output."""
    tasks, task = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if m := ROW.match(line):
                tasks[m.group(1)] = [int(m.group(2)), int(m.group(3)), Counter()]
            elif m := HEAD.match(line):
                task = m.group(1)
                if int(m.group(2)) != int(m.group(3)):
                    sys.exit(f"{path}: {task} lists {m.group(2)} of {m.group(3)} wrong answers; "
                             "run chat-eval with a larger --show-wrong")
            elif line.startswith("  Q: ") and task in tasks:
                tasks[task][2][line[5:]] += 1
    for name, (right, total, wrong) in tasks.items():
        if right + sum(wrong.values()) != total and wrong:
            sys.exit(f"{path}: {name}: {right} right + {sum(wrong.values())} wrong listed != {total}")
    return tasks


def sign_test(b, c):
    """Two-sided exact binomial p of a split at least as uneven as b : c (fair coin)."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--names", nargs=2, default=["A", "B"])
    args = ap.parse_args()
    A, B = read(args.a), read(args.b)
    na, nb = args.names
    print(f"| task | n | {na} | {nb} | wrong for both | only {na} wrong | only {nb} wrong | paired SE | sign test p |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task in A:
        if task not in B:
            continue
        (ra, n, wa), (rb, n2, wb) = A[task], B[task]
        if n != n2:
            sys.exit(f"{task}: {n} questions in {args.a} but {n2} in {args.b}; use the same --count")
        both = sum((wa & wb).values())
        only_a, only_b = sum(wa.values()) - both, sum(wb.values()) - both
        se = math.sqrt(only_a + only_b) / n * 100
        print(f"| {task} | {n} | {100 * ra / n:.1f}% | {100 * rb / n:.1f}% | {both} | {only_a} | {only_b} | "
              f"{se:.1f} points | {sign_test(only_a, only_b):.2g} |")


if __name__ == "__main__":
    main()
