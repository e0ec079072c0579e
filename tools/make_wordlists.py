#!/usr/bin/env python3
"""Write data/words/words.txt and data/words/names.txt from the Shakespeare training split.

words.txt: the most frequent lowercase words of the training texts, for the spelling and
letter-counting tasks. A token is a maximal run of ASCII letters and apostrophes; tokens
with an apostrophe ("'tis", "o'er", "king's") are dropped, the rest must be 3-10 letters.
Only tokens written entirely in lowercase are counted, so a word that appears only
capitalised (a name such as "Rome", or a heading such as "ACT") never gets in, and
capitals at the start of verse lines do not matter. Order: count descending, then
alphabetical. One word per line.

names.txt: character names for the arithmetic word problems, taken from speaker headings
at the start of a line: "NAME." in capitals (most plays), plus "Name." alone on a line
after a blank line (Hamlet, King Lear and Romeo and Juliet write their headings that way).
A name is one word of 3-10 letters, written in title case ("Romeo"). Dropped:
  * multi-word headings ("MRS. PAGE.", "FIRST LORD.", "KING OF FRANCE.");
  * words that are also ordinary words, i.e. appear in lowercase in the text at least
    LOWER_MAX times ("King", "Clown", "Nurse", "Speed", "Page", "Ford", "Shallow");
  * words used in title case in the middle of a line (after a space, and not followed by
    ".") fewer than MIN_MID_USES times, which removes abbreviations such as "Fal", "Ham",
    "Glou", "Hor" (stage directions write "Enter Hor." but dialogue never says "Hor");
  * words that follow "of ", "the " or "la " in more than TITLE_MAX of their mid-line
    uses (and at least 3 times): lords named after places ("York", "Suffolk", "Kent",
    the "Duke of ..." speakers) and titles ("the Countess");
  * the few in EXCLUDE (see there).
Each name's score is its number of headings; order: score descending, then alphabetical;
the first N_NAMES are written.

It also checks the hand-written data/words/categories.json (category -> list of words):
every word lowercase a-z, 15-25 words a category, no word in two categories. It reports, per
category, how many of its words occur in the training texts, and exits 1 on a problem.

Deterministic: the same corpus gives byte-identical files.

Usage: python3 tools/make_wordlists.py [--corpus data/shakespeare/train] [--out data/words]
"""

import argparse
import collections
import glob
import json
import os
import re
import sys

N_WORDS = 1500
N_NAMES = 150
MIN_LEN, MAX_LEN = 3, 10
LOWER_MAX = 3      # a name appears in lowercase fewer than this many times,
MIN_MID_USES = 2   # in title case in the middle of a line at least this many times,
TITLE_MAX = 0.2    # and after "of ", "the " or "la " in at most this fraction of those
                   # (or fewer than 3 times)
# Names kept out by hand: "Dick" (modern slang) and "Pucelle" (a title, "Joan la Pucelle",
# "the Maid") would otherwise reach the list; personified roles that are not people
# ("Chorus", "Prologue", "Epilogue", "Rumour", "Time", the god "Hymen") are listed too, so
# that a change to the rules above cannot let them in.
EXCLUDE = {"Dick", "Pucelle", "Chorus", "Rumour", "Time", "Hymen", "Prologue", "Epilogue"}

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = re.compile(r"[A-Za-z']+")
CAPS_HEADING = re.compile(r"^([A-Z]+)\.(?:\s|$)")
NEXT_IS_CAPS_WORD = re.compile(r"^\s*[A-Z]{2,}[.,]?(?:\s|$)")
TITLE_HEADING = re.compile(r"^([A-Z][a-z]+)\.$")
MID_LINE_TITLE = re.compile(r"(?<= )([A-Z][a-z]+)\b(?!\.)")
TITLE_BEFORE = re.compile(r"(?<![A-Za-z])(?:of|the|la) $")


def read_corpus(corpus_dir):
    paths = sorted(glob.glob(os.path.join(corpus_dir, "*.txt")))
    if not paths:
        sys.exit(f"no .txt files in {corpus_dir} (run tools/make_corpus.py first)")
    return [(os.path.basename(p), open(p, encoding="utf-8").read()) for p in paths]


def word_counts(texts):
    counts = collections.Counter()
    for _, text in texts:
        for tok in TOKEN.findall(text):
            if "'" in tok or not tok.islower():
                continue
            if MIN_LEN <= len(tok) <= MAX_LEN:
                counts[tok] += 1
    return counts


def all_lowercase_counts(texts):
    counts = collections.Counter()
    for _, text in texts:
        for tok in TOKEN.findall(text):
            if tok.islower():
                counts[tok] += 1
    return counts


def heading_counts(texts):
    counts = collections.Counter()
    for _, text in texts:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            m = CAPS_HEADING.match(line)
            if m:
                rest = line[m.end():]
                if NEXT_IS_CAPS_WORD.match(rest):  # "MRS. PAGE.", "SIR TOBY." ...
                    continue
                counts[m.group(1).capitalize()] += 1
                continue
            m = TITLE_HEADING.match(line)
            if m and i > 0 and lines[i - 1] == "" and i + 1 < len(lines) and lines[i + 1] != "":
                counts[m.group(1)] += 1
    return counts


def mid_line_uses(texts):
    """For each title-case word: (uses in the middle of a line, uses right after one of the
    words "of", "the", "la")."""
    uses = collections.Counter()
    after_title = collections.Counter()
    for _, text in texts:
        for line in text.split("\n"):
            for m in MID_LINE_TITLE.finditer(line):
                w = m.group(1)
                uses[w] += 1
                if TITLE_BEFORE.search(line, 0, m.start()):
                    after_title[w] += 1
    return uses, after_title


def check_categories(path, texts):
    with open(path, encoding="utf-8") as f:
        cats = json.load(f)
    seen = set(t.lower() for _, text in texts for t in TOKEN.findall(text))
    owner, problems = {}, []
    for cat, words in cats.items():
        if not 15 <= len(words) <= 25:
            problems.append(f"{cat}: {len(words)} words (want 15-25)")
        for w in words:
            if not re.fullmatch(r"[a-z]+", w):
                problems.append(f"{cat}: {w!r} is not lowercase a-z")
            if w in owner:
                problems.append(f"{w!r} is in both {owner[w]!r} and {cat!r}")
            owner[w] = cat
        n_in = sum(w in seen for w in words)
        print(f"  {cat}: {len(words)} words, {n_in} in Shakespeare")
    print(f"categories.json: {len(cats)} categories, {len(owner)} words")
    for p in problems:
        print("  PROBLEM: " + p)
    return not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(REPO_ROOT, "data/shakespeare/train"))
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "data/words"))
    args = ap.parse_args()
    texts = read_corpus(args.corpus)

    counts = word_counts(texts)
    words = sorted(counts, key=lambda w: (-counts[w], w))[:N_WORDS]
    if len(words) < N_WORDS:
        sys.exit(f"only {len(words)} words found")

    lower = all_lowercase_counts(texts)
    heads = heading_counts(texts)
    uses, after_title = mid_line_uses(texts)
    dropped = collections.defaultdict(list)
    candidates = []
    for name, n in heads.items():
        if not (MIN_LEN <= len(name) <= MAX_LEN):
            reason = "length"
        elif name in EXCLUDE:
            reason = "excluded by hand"
        elif lower[name.lower()] >= LOWER_MAX:
            reason = "also an ordinary word"
        elif uses[name] < MIN_MID_USES:
            reason = "rarely used mid-line (abbreviation?)"
        elif after_title[name] >= 3 and after_title[name] > TITLE_MAX * uses[name]:
            reason = "mostly after 'of', 'the' or 'la' (a place or title)"
        else:
            candidates.append(name)
            continue
        dropped[reason].append((n, name))
    names = sorted(candidates, key=lambda w: (-heads[w], w))[:N_NAMES]
    if len(names) < N_NAMES:
        sys.exit(f"only {len(names)} names found")

    os.makedirs(args.out, exist_ok=True)
    for fname, items in (("words.txt", words), ("names.txt", names)):
        with open(os.path.join(args.out, fname), "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(w + "\n" for w in items))

    print(f"words.txt: {len(words)} words of {len(counts)} distinct lowercase words; "
          f"counts {counts[words[0]]} ({words[0]}) .. {counts[words[-1]]} ({words[-1]})")
    lens = collections.Counter(len(w) for w in words)
    print("  by length: " + " ".join(f"{k}:{lens[k]}" for k in sorted(lens)))
    print(f"names.txt: {len(names)} names of {len(heads)} single-word headings; "
          f"headings {heads[names[0]]} ({names[0]}) .. {heads[names[-1]]} ({names[-1]})")
    for reason in sorted(dropped):
        top = sorted(dropped[reason], key=lambda t: (-t[0], t[1]))
        print(f"  dropped, {reason}: {len(top)}, most frequent: "
              + ", ".join(name for _, name in top[:12]))

    cat_path = os.path.join(args.out, "categories.json")
    if os.path.exists(cat_path) and not check_categories(cat_path, texts):
        sys.exit(1)


if __name__ == "__main__":
    main()
