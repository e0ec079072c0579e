#!/usr/bin/env python3
"""Write Tests/nanochatTests/fixtures/bpe_reference.json: BPE training and encoding made by
independent tools (rustbpe and tiktoken from PyPI), for the Swift tokenizer tests.

1. Training: the first `corpus.bytes` bytes of data/shakespeare/val/macbeth.txt (the longest
   prefix of at most 30000 bytes that ends with "\\n") are ONE document. rustbpe trains on it
   with nanochat's split pattern (the Swift `splitPattern`, \\p{N}{1,2}) and vocab 256 + 300.
   `merges[i]` is the base64 of the bytes of token 256 + i (from get_mergeable_ranks).
   rustbpe 0.1.x does not expose its merge pairs, so `pairs[i]` = [left id, right id] and
   `counts[i]` (the pair's count when merged) come from replaying the training in Python
   (every step recounts all pairs of the chunk words and takes the most frequent pair whose
   joined bytes are rustbpe's token). `trainer` says whether our tie rule (highest count, then
   the smaller (left, right)) alone picks rustbpe's merge at every rank, the ranks where two or
   more pairs shared the top count, and the first rank where two other tie rules part from
   rustbpe. rustbpe's own encode (pair lookup) must equal a Python pair-lookup encoder on the
   replayed pairs, on every case.
2. Encoding: `cases[k].ids` is tiktoken's encode_ordinary(text) with
   Encoding(pat_str=pattern, mergeable_ranks=rustbpe's ranks, special_tokens={}). The texts:
   Shakespeare, Unicode (accents, CJK, emoji with skin tones, combining marks), CRLF and lone
   CR, digit runs, whitespace runs, contractions in mixed case, punctuation and letter runs,
   seeded random mixes, and lines of data/shakespeare/val/julius-caesar.txt, added only while
   some wrong encoder (below) errs on too few cases.
   `reordered` holds the same merges in a seeded random order that keeps every merge after
   its two parts, and `cases[k].ids_reordered` the tiktoken ids with those ranks: on a vocab
   from BPE training, merging by training pair gives the same ids as merging by joined bytes
   (rustbpe's encode agrees with tiktoken on every unique chunk of the Shakespeare corpus), and
   every token is reachable by merging, so only a reordered vocab tells those apart.
3. Teeth: a Python reference encoder (a chunk that is a token is that token, else merge the
   adjacent pair whose JOINED BYTES have the lowest rank, leftmost on ties) must equal tiktoken
   on every case in both vocabs, and each wrong encoder must differ from tiktoken on at least
   MIN_WRONG cases (in either vocab): leftmost-first (merge the leftmost adjacent pair that is a
   token), highest-rank-first, rightmost-on-ties, training-pair lookup (rustbpe's encode),
   no whole-chunk lookup, and greedy longest-prefix match.

JSON (UTF-8; merges and pairs 10 a line, one case a line):
 {"about": str, "versions": {"rustbpe": str, "tiktoken": str}, "pattern": str,
  "corpus": {"file": str, "bytes": int, "cut": str, "sha256": str}, "vocab_size": int,
  "merges": [base64, ...], "pairs": [[int, int], ...], "counts": [int, ...],
  "trainer": {"tie_rule": str, "tie_rule_matches": bool, "tie_ranks": [int, ...],
              "other_tie_rules_first_differ_at_rank": {str: int}},
  "reordered": {"about": str, "merges": [base64, ...], "pairs": [[int, int], ...]},
  "cases": [{"name": str, "text": str, "ids": [int, ...], "ids_reordered": [int, ...]}, ...]}

It also runs `nanochat tok-train` (--binary, default .build/release/nanochat when it exists;
--no-binary to skip) on the same bytes with vocab 256 + 300 + 9 special tokens and compares its
tokenizer.tiktoken with rustbpe's ranks: printed, exit 1 if they differ; the JSON never depends
on the Swift build.

Usage: python3 tools/make_tokenizer_fixture.py [--out PATH] [--binary PATH | --no-binary]
Needs: rustbpe, tiktoken, regex (pip-installed on demand). Deterministic.
"""

import argparse
import base64
import hashlib
import importlib.metadata
import json
import os
import random
import subprocess
import sys
import tempfile


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipdeps import need  # noqa: E402  (tools/pipdeps.py)

rustbpe = need("rustbpe", "rustbpe")
tiktoken = need("tiktoken", "tiktoken")
regex = need("regex", "regex")

# Must equal `splitPattern` in Sources/nanochat/Tokenizer/PreTokenizer.swift (checked in main).
PATTERN = (r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}|"
           r" ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join("Tests", "nanochatTests", "fixtures", "bpe_reference.json")
CORPUS_FILE = "data/shakespeare/val/macbeth.txt"
CORPUS_MAX_BYTES = 30000
MINE_FILE = "data/shakespeare/val/julius-caesar.txt"
NUM_MERGES = 300
NUM_SPECIAL = 9  # nanochat's special tokens, appended after the merges by `nanochat tok-train`
SEED = 20240607
MIN_WRONG = 5      # each wrong encoder must differ from tiktoken on at least this many cases

COMPILED = regex.compile(PATTERN)
REORDERED_ABOUT = ("the same 300 tokens in a seeded random order that keeps each merge after the two tokens "
                   "it joins (merges[i] is token 256+i, pairs[i] its (left id, right id)); cases[k].ids_reordered "
                   "are tiktoken.encode_ordinary with these ranks. On a vocab from BPE training, merging by training "
                   "pair gives the same ids as merging by joined bytes, and skipping tiktoken's whole-chunk lookup "
                   "changes nothing; on this one both differ.")


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def chunks_of(text: str):
    return [m.group(0).encode("utf-8") for m in COMPILED.finditer(text)]


# ---------------------------------------------------------------------------
# Corpus and training
# ---------------------------------------------------------------------------

def load_corpus():
    path = os.path.join(REPO_ROOT, CORPUS_FILE)
    if not os.path.exists(path):
        sys.exit(f"error: {CORPUS_FILE} missing; run tools/make_corpus.py first")
    data = open(path, "rb").read()
    n = data.rindex(b"\n", 0, CORPUS_MAX_BYTES) + 1
    doc = data[:n]
    doc.decode("utf-8")  # a newline is always a UTF-8 boundary; check the whole prefix anyway
    return doc


def train_rustbpe(text: str):
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter([text]), 256 + NUM_MERGES, pattern=PATTERN)
    pairs = sorted(((bytes(k), v) for k, v in tok.get_mergeable_ranks()), key=lambda kv: kv[1])
    assert [r for _, r in pairs] == list(range(256 + NUM_MERGES)), "rustbpe ranks not 0..V-1"
    assert all(pairs[i][0] == bytes([i]) for i in range(256))
    tokens = [b for b, _ in pairs]
    assert len(set(tokens)) == len(tokens), "rustbpe made two tokens with the same bytes"
    return tok, tokens


def replay(text: str, num_merges, follow=None, tie=min):
    """BPE training in Python on the chunk words: each step recounts all pairs and merges the most
    frequent one, ties broken by tie(list of (left, right)); ours and rustbpe's rule is min.

    With `follow` (rustbpe's tokens) it takes instead the top pair among those whose joined bytes
    are follow[rank] (so it follows rustbpe even where the tie rule would not) and records the ranks
    where the tie rule alone picks another pair. Returns (tokens, pairs, counts, tie_ranks,
    mismatched_ranks); tie_ranks are the merges where two or more pairs shared the top count."""
    counts = {}
    for ch in chunks_of(text):
        counts[ch] = counts.get(ch, 0) + 1
    words = [(list(w), c) for w, c in sorted(counts.items())]
    vocab = [bytes([i]) for i in range(256)]
    pairs, pair_counts, tie_ranks, mismatched = [], [], [], []
    for rank in range(256, 256 + num_merges):
        pc = {}
        for ids, c in words:
            for a, b in zip(ids, ids[1:]):
                pc[(a, b)] = pc.get((a, b), 0) + c
        if not pc:
            break
        top = max(pc.values())
        tied = [p for p, c in pc.items() if c == top]
        best = tie(tied)
        if len(tied) > 1:
            tie_ranks.append(rank)
        chosen, count = best, top
        if follow is not None:
            want = follow[rank]
            cands = [(-c, p) for p, c in pc.items() if vocab[p[0]] + vocab[p[1]] == want]
            assert cands, f"rank {rank}: no adjacent pair joins to rustbpe's token {want!r}"
            negc, chosen = min(cands)
            count = -negc
            if chosen != best:
                mismatched.append(rank)
        pairs.append(chosen)
        pair_counts.append(count)
        a, b = chosen
        vocab.append(vocab[a] + vocab[b])
        for k, (ids, c) in enumerate(words):
            if len(ids) < 2:
                continue
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
                    out.append(rank)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            words[k] = (out, c)
    return vocab, pairs, pair_counts, tie_ranks, mismatched


def first_difference(a, b):
    """The first index where lists a and b differ (the shorter length if one is a prefix), or None."""
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), None if len(a) == len(b) else n)


# ---------------------------------------------------------------------------
# Encoders: the reference and the wrong ones
# ---------------------------------------------------------------------------

def merge_loop(parts, pick):
    """Repeatedly merges parts[i], parts[i+1] at i = pick(parts) until pick returns None."""
    while len(parts) > 1:
        i = pick(parts)
        if i is None:
            break
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts


def make_byte_encoder(ranks, choose, whole=True):
    """A BPE encoder on joined bytes; choose(list of (rank, i)) picks the merge position. With
    `whole`, a chunk that is itself a token is that token (tiktoken does this first)."""
    def pick(parts):
        cand = [(ranks[parts[i] + parts[i + 1]], i) for i in range(len(parts) - 1)
                if parts[i] + parts[i + 1] in ranks]
        return choose(cand) if cand else None

    def encode(text):
        out = []
        for ch in chunks_of(text):
            if whole and ch in ranks:
                out.append(ranks[ch])
                continue
            parts = merge_loop([ch[i:i + 1] for i in range(len(ch))], pick)
            out += [ranks[p] for p in parts]
        return out
    return encode


def make_pair_encoder(pairs):
    """Merges only the (left, right) id pairs learned in training, lowest merge id first (no whole-chunk
    lookup): rustbpe's encode."""
    merge_id = {p: 256 + i for i, p in enumerate(pairs)}

    def encode(text):
        out = []
        for ch in chunks_of(text):
            ids = list(ch)
            while len(ids) > 1:
                cand = [(merge_id[(ids[i], ids[i + 1])], i) for i in range(len(ids) - 1)
                        if (ids[i], ids[i + 1]) in merge_id]
                if not cand:
                    break
                m, i = min(cand)
                ids[i:i + 2] = [m]
            out += ids
        return out
    return encode


def make_greedy_encoder(ranks):
    """Longest token that is a prefix of the rest of the chunk, left to right."""
    maxlen = max(len(t) for t in ranks)

    def encode(text):
        out = []
        for ch in chunks_of(text):
            i = 0
            while i < len(ch):
                for n in range(min(maxlen, len(ch) - i), 0, -1):
                    if ch[i:i + n] in ranks:
                        out.append(ranks[ch[i:i + n]])
                        i += n
                        break
        return out
    return encode


def encoders(ranks, pairs):
    reference = make_byte_encoder(ranks, lambda c: min(c)[1])
    wrong = {
        "leftmost_first": make_byte_encoder(ranks, lambda c: min(c, key=lambda ri: ri[1])[1]),
        "highest_rank_first": make_byte_encoder(ranks, lambda c: max(c, key=lambda ri: (ri[0], -ri[1]))[1]),
        "rightmost_on_ties": make_byte_encoder(ranks, lambda c: max(c, key=lambda ri: (-ri[0], ri[1]))[1]),
        "training_pair_lookup": make_pair_encoder(pairs),
        "no_whole_chunk_lookup": make_byte_encoder(ranks, lambda c: min(c)[1], whole=False),
        "greedy_longest_prefix": make_greedy_encoder(ranks),
    }
    return reference, wrong


class Vocab:
    """Mergeable tokens (rank order), their merge pairs, tiktoken and the Python encoders."""

    def __init__(self, name, tokens, pairs):
        self.tokens, self.pairs = tokens, pairs
        self.ranks = {t: i for i, t in enumerate(tokens)}
        assert len(self.ranks) == len(tokens)
        assert all(tokens[256 + i] == tokens[a] + tokens[b] for i, (a, b) in enumerate(pairs))
        self.tik = tiktoken.Encoding(name=name, pat_str=PATTERN, mergeable_ranks=self.ranks, special_tokens={})
        self.reference, self.wrong = encoders(self.ranks, pairs)


def reorder(tokens, pairs):
    """The same merges in a seeded random order that keeps each merge after the two tokens it joins."""
    rng = random.Random(SEED)
    new_id = {i: i for i in range(256)}
    remaining = list(range(256, len(tokens)))
    new_pairs = []
    while remaining:
        ready = [t for t in remaining if all(p in new_id for p in pairs[t - 256])]
        t = rng.choice(ready)
        remaining.remove(t)
        new_id[t] = 256 + len(new_pairs)
        new_pairs.append(tuple(new_id[p] for p in pairs[t - 256]))
    new_tokens = tokens[:256] + [None] * len(new_pairs)
    for old, new in new_id.items():
        new_tokens[new] = tokens[old]
    return new_tokens, new_pairs


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def fixed_cases():
    c = []
    add = lambda name, text: c.append((name, text))
    # Shakespeare (not all from the training prefix).
    add("shakespeare_witches", "When shall we three meet again\nIn thunder, lightning, or in rain?\n")
    add("shakespeare_tomorrow", "To-morrow, and to-morrow, and to-morrow,\nCreeps in this petty pace from day to day,\n"
        "To the last syllable of recorded time;")
    add("shakespeare_dagger", "Is this a dagger which I see before me,\nThe handle toward my hand? Come, let me clutch thee.")
    add("shakespeare_spot", "Out, damned spot! out, I say!--One; two; why, then 'tis time to do't.")
    add("shakespeare_double", "Double, double toil and trouble;\nFire burn, and cauldron bubble.")
    add("shakespeare_friends", "Friends, Romans, countrymen, lend me your ears;\nI come to bury Caesar, not to praise him.")
    add("shakespeare_stage", "  Enter MACBETH and BANQUO.\n\nMACBETH. So foul and fair a day I have not seen.\n"
        "BANQUO. How far is't call'd to Forres?")
    add("shakespeare_caps", "ACT I. SCENE I. A desert place. Thunder and lightning. Enter three WITCHES.")
    # Unicode.
    add("unicode_accents", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve r\u00e9sum\u00e9, fa\u00e7ade, "
        "\u00c5ngstr\u00f6m, stra\u00dfe, se\u00f1or")
    add("unicode_combining", "cafe\u0301 e\u0301te\u0301 n\u0303 a\u0308\u0304b \u0301x Z\u0351\u036b\u0343a\u0364")
    add("unicode_cjk", "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002"
        "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8")
    add("unicode_emoji_skin_tones", "\U0001F44D\U0001F3FD ok \U0001F44B\U0001F3FFhi \U0001F9D1\U0001F3FB\u200d\U0001F4BB "
        "\U0001F468\u200d\U0001F469\u200d\U0001F467 \u2764\ufe0f \U0001F1EB\U0001F1F7")
    add("unicode_scripts", "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u041f\u0440\u0438\u0432\u0435\u0442, "
        "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u0928\u092e\u0938\u094d\u0924\u0947")
    add("unicode_mixed_glued", "na\u00efve\u65e5\u672cabc\u00e9\U0001F600x\u2014y \u00bfQu\u00e9? \u201cquoted\u201d "
        "it\u2019s")
    # Line endings.
    add("crlf_lines", "First line\r\nSecond line\r\n\r\nThird, after a blank.\r\n")
    add("cr_only", "old\rmac\rline\r\rendings\r")
    add("line_endings_mixed", "a\n\r\nb\r\r\nc \r\n  \r\n\tend\n\n\n")
    # Digits.
    add("digits_1_to_7", "1 12 123 1234 12345 123456 1234567")
    add("digits_commas_decimals", "1,234,567 and 3.14159 and 0.5 and 1,000.00 and 99.999%")
    add("digits_glued", "x1y22z333w4444 2024-06-07 12:34:56 1st 2nd 10x")
    add("digits_unicode", "\u0661\u0662\u0663 \uff11\uff12\uff13 x\u00b2 \u00bd \u216b")
    # Whitespace.
    add("spaces_runs", "a b  c   d    e     f")
    add("tabs_and_mixed", "\tone\n\t\ttwo\n  \t three \t\n")
    add("trailing_spaces", "trailing spaces   ")
    add("leading_spaces", "      leading spaces")
    add("spaces_only", "        ")
    add("spaces_before_newline", "end   \n   \n\t\nnext")
    # Contractions.
    add("contractions_lower", "it's we'll they've you're I'd I'm don't 'tis o'er")
    add("contractions_upper", "IT'S WE'LL THEY'VE YOU'RE I'D I'M DON'T")
    add("contractions_mixed_case", "'S 'LL 'Ve 'vE 'Re 'rE 'D 'M 'T 'Ll 'lL he'S she'Ll")
    add("not_contractions", "'x 'q 'a '1 ' '' 'st 'llama 'dx")
    # Punctuation.
    add("punct_runs", "Wait... what?!?! ---- *** ;;; ((( ))) [[x]] {{y}} <<>> ,,,")
    add("punct_newlines", "end.\n\nnext!\r\n\r\nmore?\n \nlast;\n")
    add("punct_ascii_all", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    # Runs of one letter: the same pair at overlapping positions (ties in rank).
    add("repeated_e", "Sheeep and beeeees, thee and theee")
    add("repeated_o", "Whooo! Coool, toooo loooong; Hellllo, appple")
    add("repeated_dashes", "yes --- no ----- maybe -- so---on")
    add("repeated_newlines", "end.\n\n\nnext\n\n\n\n\nlast\n\n\n")
    add("repeated_mixed", "eeeee ooooo ---\n\n\n")
    return c


def random_cases(corpus: str):
    rng = random.Random(SEED)
    words = sorted(set(regex.findall(r"\p{L}+", corpus)))
    pieces = {
        "word": lambda: rng.choice(words),
        "Word": lambda: rng.choice(words).capitalize(),
        "WORD": lambda: rng.choice(words).upper(),
        "space": lambda: rng.choice([" ", " ", "  ", "   ", "\t", " \t", "\n", "\r\n", "\r", "\n\n", "    "]),
        "digits": lambda: "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 7))),
        "number": lambda: rng.choice(["1,234", "3.14", "0.5", "12,345,678", "2.718", "100%"]),
        "contraction": lambda: rng.choice(["'s", "'S", "'ll", "'LL", "'Ll", "'ve", "'Ve", "'VE", "'re", "'RE",
                                           "'d", "'D", "'m", "'M", "'t", "'T", "'"]),
        "punct": lambda: "".join(rng.choice(".,;:!?-()[]\"'*&") for _ in range(rng.randint(1, 4))),
        "unicode": lambda: rng.choice(["\u00e9", "na\u00efve", "\u65e5\u672c", "\U0001F44D\U0001F3FD", "e\u0301",
                                       "\u2014", "\u2019", "\u00df", "\u4f60\u597d", "\U0001F600"]),
    }
    kinds = sorted(pieces)
    out = []
    for i in range(12):
        s = "".join(pieces[rng.choice(kinds)]() for _ in range(rng.randint(4, 24)))
        out.append((f"random_mix_{i:02d}", s))
    return out


def mined_cases(vocabs, have):
    """Lines of MINE_FILE that a wrong encoder gets wrong (in either vocab), added only while it
    errs on fewer than MIN_WRONG cases."""
    lines = [l for l in open(os.path.join(REPO_ROOT, MINE_FILE), encoding="utf-8").read().split("\n")
             if l.strip() and len(l) <= 80]
    out = []
    for name in sorted(vocabs[0].wrong):
        errs = lambda t: any(v.wrong[name](t) != v.tik.encode_ordinary(t) for v in vocabs)
        n, k = sum(1 for _, t in have + out if errs(t)), 0
        for line in lines:
            if n >= MIN_WRONG:
                break
            text = line + "\n"
            if all(t != text for _, t in have + out) and errs(text):
                n, k = n + 1, k + 1
                out.append((f"mined_{name}_{k}", text))
    return out


# ---------------------------------------------------------------------------
# Optional: compare with our Swift trainer (`nanochat tok-train`)
# ---------------------------------------------------------------------------

def compare_binary(binary, doc: bytes, tokens):
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "corpus.txt")
        with open(inp, "wb") as f:
            f.write(doc)
        outdir = os.path.join(tmp, "tok")
        cmd = [binary, "tok-train", "--input", inp, "--vocab-size", str(256 + NUM_MERGES + NUM_SPECIAL),
               "--output", outdir]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"nanochat tok-train failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
            return False
        ours = []
        for line in open(os.path.join(outdir, "tokenizer.tiktoken"), "rb"):
            if line.strip():
                s, rank = line.split()
                assert int(rank) == len(ours)
                ours.append(base64.b64decode(s))
    if ours == tokens:
        print(f"nanochat tok-train: identical to rustbpe ({len(ours)} ranks)")
        return True
    first = first_difference(ours, tokens)
    if first >= min(len(ours), len(tokens)):
        print(f"nanochat tok-train: {len(ours)} ranks vs rustbpe's {len(tokens)}")
    else:
        print(f"nanochat tok-train: first difference at rank {first}: ours {ours[first]!r}, "
              f"rustbpe {tokens[first]!r}")
    return False


# ---------------------------------------------------------------------------

def swift_pattern():
    src = open(os.path.join(REPO_ROOT, "Sources", "nanochat", "Tokenizer", "PreTokenizer.swift"),
               encoding="utf-8").read()
    m = regex.search(r'let splitPattern =\s*#"(.*)"#', src)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--binary", default=os.path.join(".build", "release", "nanochat"))
    ap.add_argument("--no-binary", action="store_true")
    args = ap.parse_args()

    assert swift_pattern() == PATTERN, "PATTERN differs from splitPattern in PreTokenizer.swift"
    versions = {"rustbpe": importlib.metadata.version("rustbpe"),
                "tiktoken": importlib.metadata.version("tiktoken")}

    doc = load_corpus()
    text = doc.decode("utf-8")
    tok, tokens = train_rustbpe(text)
    _, pairs, pair_counts, tie_ranks, mismatched = replay(text, NUM_MERGES, follow=tokens)
    # How soon other tie rules part from rustbpe (the teeth of an exact trainer comparison).
    other_rules = {
        "larger_pair": lambda ps: max(ps),
        "smaller_right_then_left": lambda ps: min(ps, key=lambda p: (p[1], p[0])),
    }
    other_first = {name: first_difference(replay(text, NUM_MERGES, tie=rule)[0], tokens)
                   for name, rule in other_rules.items()}
    trained = Vocab("bpe_reference", tokens, pairs)
    re_tokens, re_pairs = reorder(tokens, pairs)
    reordered = Vocab("bpe_reference_reordered", re_tokens, re_pairs)
    vocabs = [trained, reordered]

    cases = fixed_cases() + random_cases(text)
    cases += mined_cases(vocabs, cases)
    names = [n for n, _ in cases]
    assert len(names) == len(set(names)), "duplicate case names"

    records = []
    miss = {(v, w): [] for v in ("trained", "reordered") for w in trained.wrong}
    rust_vs_tik = 0
    for name, t in cases:
        rec = {"name": name, "text": t}
        for label, v in (("trained", trained), ("reordered", reordered)):
            ids = v.tik.encode_ordinary(t)
            assert v.reference(t) == ids, f"reference encoder differs from tiktoken on {name} ({label})"
            assert v.tik.decode_bytes(ids) == t.encode("utf-8")
            for w, enc in v.wrong.items():
                if enc(t) != ids:
                    miss[(label, w)].append(name)
            rec["ids" if label == "trained" else "ids_reordered"] = ids
        rust = tok.encode(t)
        assert rust == trained.wrong["training_pair_lookup"](t), \
            f"rustbpe.encode differs from the replayed-pair encoder on {name}"
        rust_vs_tik += rust != rec["ids"]
        records.append(rec)
    for w in trained.wrong:
        either = set(miss[("trained", w)]) | set(miss[("reordered", w)])
        assert len(either) >= MIN_WRONG, f"wrong encoder {w} differs on only {len(either)} cases"

    header = {
        "about": "Reference BPE for the Swift tokenizer tests, written by tools/make_tokenizer_fixture.py "
                 "(see its docstring). merges[i] is token 256+i (base64 of its bytes) trained by rustbpe on the "
                 "corpus prefix as one document; pairs/counts replay that training; cases[k].ids are "
                 "tiktoken.encode_ordinary with those ranks, cases[k].ids_reordered with the `reordered` ranks.",
        "versions": versions,
        "pattern": PATTERN,
        "corpus": {"file": CORPUS_FILE, "bytes": len(doc),
                   "cut": f"the first `bytes` bytes of the file: the longest prefix of at most {CORPUS_MAX_BYTES} "
                          "bytes that ends with \"\\n\" (so a UTF-8 boundary); used as ONE document",
                   "sha256": hashlib.sha256(doc).hexdigest()},
        "vocab_size": len(tokens),
    }
    trainer = {
        "tie_rule": "each merge takes the pair with the highest count; ties go to the smaller (left id, right id)",
        "tie_rule_matches": not mismatched,
        "tie_ranks": tie_ranks,
        "other_tie_rules_first_differ_at_rank": other_first,
    }
    parts = ["{"]
    for k, v in header.items():
        parts.append(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    parts.append('"merges": [\n' + ",\n".join(
        ", ".join(json.dumps(b64(t)) for t in tokens[i:i + 10]) for i in range(256, len(tokens), 10)) + "\n],")
    parts.append('"pairs": [\n' + ",\n".join(
        ", ".join(json.dumps(list(p)) for p in pairs[i:i + 10]) for i in range(0, len(pairs), 10)) + "\n],")
    parts.append('"counts": ' + json.dumps(pair_counts) + ",")
    parts.append('"trainer": ' + json.dumps(trainer) + ",")
    parts.append('"reordered": {"about": ' + json.dumps(REORDERED_ABOUT) + ',\n"merges": [\n' + ",\n".join(
        ", ".join(json.dumps(b64(t)) for t in re_tokens[i:i + 10]) for i in range(256, len(re_tokens), 10))
        + '\n],\n"pairs": [\n' + ",\n".join(
        ", ".join(json.dumps(list(p)) for p in re_pairs[i:i + 10]) for i in range(0, len(re_pairs), 10))
        + "\n]},")
    parts.append('"cases": [\n' + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]")
    parts.append("}\n")
    body = "\n".join(parts)
    assert json.loads(body)["cases"] == records
    out = args.out if os.path.isabs(args.out) else os.path.join(REPO_ROOT, args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(body)

    print(f"wrote {os.path.relpath(out, REPO_ROOT)}: {len(body.encode('utf-8'))} bytes, {len(records)} cases, "
          f"{NUM_MERGES} merges (rustbpe {versions['rustbpe']}, tiktoken {versions['tiktoken']})")
    print(f"corpus: {CORPUS_FILE}, first {len(doc)} bytes as one document")
    print(f"replay: {len(tie_ranks)} merges had tied top counts; tie rule (count, then smaller pair) "
          + ("matches rustbpe at every rank" if not mismatched else f"differs at ranks {mismatched}")
          + "; other tie rules first differ at rank " + ", ".join(f"{k} {v}" for k, v in other_first.items()))
    print(f"reference encoder == tiktoken on {len(records)}/{len(records)} cases; "
          f"rustbpe.encode (pair lookup) != tiktoken on {rust_vs_tik}")
    print(f"wrong encoders, cases that differ from tiktoken (of {len(records)}): trained vocab / reordered vocab")
    for w in sorted(trained.wrong):
        print(f"  {w:<22} {len(miss[('trained', w)]):3d} / {len(miss[('reordered', w)]):3d}")

    binary = args.binary if os.path.isabs(args.binary) else os.path.join(REPO_ROOT, args.binary)
    if not args.no_binary:
        if os.path.exists(binary):
            if not compare_binary(binary, doc, tokens):
                sys.exit(1)
        else:
            print(f"no {os.path.relpath(binary, REPO_ROOT)}: skipped the nanochat tok-train comparison")


if __name__ == "__main__":
    main()
