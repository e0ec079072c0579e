"""Compare our tokenizer with nanochat's Rust trainer (rustbpe, from PyPI) on the same text and vocab.

Trains rustbpe on the training files (timing it), then measures bytes/token of both tokenizers on the
training and validation text with tiktoken (the same encoder for both), and prints a table.
Usage: python3 tools/compare_rustbpe.py [--vocab-size 4096] [--ours out/tokenizer]
Needs: pip install rustbpe tiktoken (installed on demand).
"""
import argparse, base64, glob, json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipdeps import need  # noqa: E402  (tools/pipdeps.py)

rustbpe = need("rustbpe", "rustbpe")
tiktoken = need("tiktoken", "tiktoken")

ap = argparse.ArgumentParser()
ap.add_argument("--vocab-size", type=int, default=4096)
ap.add_argument("--ours", default="out/tokenizer")
ap.add_argument("--train", default="data/shakespeare/train")
ap.add_argument("--val", default="data/shakespeare/val")
args = ap.parse_args()

meta = json.load(open(f"{args.ours}/tokenizer.json"))
pattern = meta["pattern"]
n_special = len(meta["special_tokens"])
train = [open(f, encoding="utf-8").read() for f in sorted(glob.glob(f"{args.train}/*.txt"))]
val = [open(f, encoding="utf-8").read() for f in sorted(glob.glob(f"{args.val}/*.txt"))]

t0 = time.perf_counter()
tok = rustbpe.Tokenizer()
tok.train_from_iterator(iter(train), args.vocab_size - n_special, pattern=pattern)
rust_s = time.perf_counter() - t0
rust_ranks = {bytes(k): v for k, v in tok.get_mergeable_ranks()}

ours_ranks = {}
for line in open(f"{args.ours}/tokenizer.tiktoken", "rb"):
    if line.strip():
        b64, rank = line.split()
        ours_ranks[base64.b64decode(b64)] = int(rank)
assert len(ours_ranks) + n_special == args.vocab_size, f"{args.ours} is not a {args.vocab_size} vocab"

def bpt(ranks, texts):
    enc = tiktoken.Encoding(name="x", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    ntok = sum(len(enc.encode_ordinary(t)) for t in texts)
    return nbytes / ntok

print(f"rustbpe {rustbpe.__name__} trained {args.vocab_size} vocab in {rust_s:.3f} s")
print(f"{'text':<8} {'rustbpe':>9} {'ours':>9} {'diff':>8}")
for name, texts in (("train", train), ("val", val)):
    r, o = bpt(rust_ranks, texts), bpt(ours_ranks, texts)
    print(f"{name:<8} {r:9.3f} {o:9.3f} {100 * (o - r) / r:+7.2f}%")
