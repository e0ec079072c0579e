#!/usr/bin/env python3
"""Check that `nanochat tokenize` produces exactly tiktoken's token ids.

Loads a tokenizer directory (tokenizer.tiktoken + tokenizer.json) into a
tiktoken.Encoding, encodes each text file with encode_ordinary, runs
`<binary> tokenize --tokenizer DIR FILE` (ids space-separated on stdout) and
compares the id lists. Also reports tiktoken's single-thread encode speed.

Usage:
  python3 tools/check_tiktoken.py [--tokenizer out/tokenizer]
      [--binary .build/release/nanochat] [--no-binary] [FILE ...]
Default files: data/shakespeare/val/*.txt. Exit status: 0 all match,
1 some mismatch, 2 usage/setup error.
"""

import argparse
import glob
import importlib
import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# tiktoken caches files by a hash of their *path* (not content) under
# $TMPDIR/data-gym-cache unless this is set to "": a retrained tokenizer at the
# same path would otherwise be read back stale.
os.environ["TIKTOKEN_CACHE_DIR"] = ""


def import_tiktoken():
    try:
        import tiktoken  # noqa: F401
    except ImportError:
        cmd = [sys.executable, "-m", "pip", "install", "tiktoken"]
        print("installing:", " ".join(cmd), file=sys.stderr)
        subprocess.check_call(cmd, stdout=sys.stderr)
        importlib.invalidate_caches()
    import tiktoken
    import tiktoken.load
    return tiktoken


def load_encoding(tiktoken, tok_dir):
    bpe_path = os.path.join(tok_dir, "tokenizer.tiktoken")
    meta_path = os.path.join(tok_dir, "tokenizer.json")
    with open(meta_path, "r", encoding="utf-8") as f:
        meta = json.load(f)
    pattern = meta["pattern"]
    special = {str(k): int(v) for k, v in meta.get("special_tokens", {}).items()}
    vocab_size = int(meta["vocab_size"])
    ranks = tiktoken.load.load_tiktoken_bpe(bpe_path)

    problems = []
    by_rank = {r: t for t, r in ranks.items()}
    if len(by_rank) != len(ranks):
        problems.append("duplicate ranks in tokenizer.tiktoken")
    for i in range(256):
        if by_rank.get(i) != bytes([i]):
            problems.append(f"rank {i} is {by_rank.get(i)!r}, expected single byte {i:#04x}")
            break
    if sorted(by_rank) != list(range(len(by_rank))):
        problems.append("mergeable ranks are not contiguous 0..N-1")
    n_total = len(ranks) + len(special)
    ids = sorted(list(by_rank) + list(special.values()))
    if n_total != vocab_size or ids != list(range(vocab_size)):
        problems.append(f"vocab_size {vocab_size} != {len(ranks)} mergeable + {len(special)} special"
                        " (or ids are not 0..vocab_size-1)")
    for p in problems:
        print(f"warning: {p}")

    enc = tiktoken.Encoding(
        name=f"nanochat-check:{os.path.abspath(tok_dir)}",
        pat_str=pattern,
        mergeable_ranks=ranks,
        special_tokens=special,
        explicit_n_vocab=vocab_size if not problems else None,
    )
    print(f"tokenizer: {tok_dir}: {len(ranks)} mergeable + {len(special)} special tokens, "
          f"vocab_size {vocab_size}")
    return enc


def token_repr(enc, t):
    try:
        return repr(enc.decode_single_token_bytes(t))[1:]
    except Exception:
        return "<invalid id>"


def describe_mismatch(enc, want, got, data, width=5):
    n = min(len(want), len(got))
    i = next((k for k in range(n) if want[k] != got[k]), n)
    lo, hi = max(0, i - width), i + width
    offset = sum(len(enc.decode_single_token_bytes(t)) for t in want[:i])
    lines = [f"    first mismatch at token {i} (byte offset {offset}); "
             f"lengths: tiktoken {len(want)}, binary {len(got)}",
             f"    text: {data[max(0, offset - 40):offset]!r} >>> {data[offset:offset + 40]!r}"]
    for label, ids in (("tiktoken", want), ("binary  ", got)):
        part = [f"{'*' if k == i else ''}{ids[k]}:{token_repr(enc, ids[k])}"
                for k in range(lo, min(hi, len(ids)))]
        lines.append(f"    {label} [{lo}:]: " + " ".join(part))
    return "\n".join(lines)


def run_binary(binary, tok_dir, path):
    t0 = time.perf_counter()
    proc = subprocess.run([binary, "tokenize", "--tokenizer", tok_dir, path],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        return None, dt, proc.stderr.decode("utf-8", "replace")[-2000:]
    try:
        ids = [int(x) for x in proc.stdout.split()]
    except ValueError as e:
        return None, dt, f"could not parse stdout as ids: {e}"
    return ids, dt, ""


def main():
    ap = argparse.ArgumentParser(description="compare nanochat tokenize with tiktoken")
    ap.add_argument("--tokenizer", default="out/tokenizer", help="tokenizer directory")
    ap.add_argument("--binary", default=".build/release/nanochat", help="nanochat executable")
    ap.add_argument("--no-binary", action="store_true", help="only run the tiktoken side")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()

    files = args.files or sorted(glob.glob(os.path.join("data", "shakespeare", "val", "*.txt")))
    if not files:
        print("error: no input files", file=sys.stderr)
        return 2
    if not args.no_binary and not os.access(args.binary, os.X_OK):
        print(f"error: binary {args.binary} not found or not executable "
              "(build it, or pass --binary / --no-binary)", file=sys.stderr)
        return 2

    tiktoken = import_tiktoken()
    try:
        enc = load_encoding(tiktoken, args.tokenizer)
    except (OSError, KeyError, ValueError, AssertionError) as e:
        print(f"error: cannot load tokenizer from {args.tokenizer}: {e!r}", file=sys.stderr)
        return 2

    texts = []
    mismatches = 0
    print(f"{'file':<44} {'bytes':>9} {'tokens':>8} {'bin s':>7}  match")
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            print(f"error: {path} is not valid UTF-8 ({e}); tiktoken cannot encode it "
                  "byte-exactly", file=sys.stderr)
            return 2
        texts.append(text)
        want = enc.encode_ordinary(text)
        assert enc.decode_bytes(want) == data
        if args.no_binary:
            print(f"{path:<44} {len(data):>9} {len(want):>8} {'-':>7}  (not run)")
            continue
        got, dt, err = run_binary(args.binary, args.tokenizer, path)
        ok = got == want
        mismatches += not ok
        print(f"{path:<44} {len(data):>9} {len(want):>8} {dt:>7.2f}  {'yes' if ok else 'NO'}")
        if got is None:
            print(f"    binary failed: {err.strip()}")
        elif not ok:
            print(describe_mismatch(enc, want, got, data))

    whole = "".join(texts)
    nbytes = len(whole.encode("utf-8"))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        n_tok = len(enc.encode_ordinary(whole))
        best = min(best, time.perf_counter() - t0)
    print(f"tiktoken {tiktoken.__version__} encode_ordinary (1 thread, best of 3): "
          f"{nbytes} bytes -> {n_tok} tokens in {best * 1e3:.1f} ms = "
          f"{nbytes / best / 1e6:.2f} MB/s")

    if args.no_binary:
        print("binary not run")
        return 0
    print("ALL MATCH" if mismatches == 0 else f"{mismatches} of {len(files)} files MISMATCH")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
