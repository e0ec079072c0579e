#!/usr/bin/env python3
"""Write Tests/nanochatTests/fixtures/split.json: reference pre-tokenizer splits.

The split pattern is GPT-4's with \\p{N}{1,2} (as in nanochat). Inputs are
bytes; they are decoded with 'surrogateescape' so each invalid byte becomes
one lone surrogate U+DC80..U+DCFF (a char that is not a letter, number or
space), split with the `regex` module, and each chunk is re-encoded with
'surrogateescape'. So: invalid UTF-8 is handled ONE SCALAR PER BYTE, never
by maximal-subpart U+FFFD replacement.

JSON: {"pattern": str, "cases": [{"name": str, "input": base64,
       "chunks": [base64, ...]}, ...]}

With tiktoken installed, the script also cross-checks that tiktoken (Rust
fancy-regex) chunks the valid-UTF-8 cases the same way: it builds a vocab of
many cross-boundary byte n-grams and compares tiktoken's encode_ordinary with
a Python BPE run on the `regex` chunks (--no-tiktoken-check to skip).

Usage: python3 tools/make_split_fixture.py [--out PATH]
"""

import argparse
import base64
import json
import os
import random
import sys
import unicodedata

try:
    import regex
except ImportError:
    sys.exit("error: needs the `regex` module (pip install regex)")

PATTERN = (r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}|"
           r" ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "nanochatTests", "fixtures", "split.json")
SHAKESPEARE = os.path.join(REPO_ROOT, "data", "shakespeare", "val", "macbeth.txt")

SEED = 20240601
COMPILED = regex.compile(PATTERN)


def split_bytes(data: bytes):
    text = data.decode("utf-8", "surrogateescape")
    chunks = [m.group(0).encode("utf-8", "surrogateescape") for m in COMPILED.finditer(text)]
    assert b"".join(chunks) == data, data
    assert all(chunks), data
    return chunks


def u(s: str) -> bytes:
    return s.encode("utf-8")


# ---------------------------------------------------------------------------
# Hand-written cases
# ---------------------------------------------------------------------------

def fixed_cases():
    c = []
    add = lambda name, data: c.append((name, data if isinstance(data, bytes) else u(data)))

    add("empty", b"")
    add("single_letter", "a")
    add("single_space", " ")
    add("single_newline", "\n")
    add("single_digit", "7")
    add("single_punct", "!")
    add("hello_world", "Hello world")
    add("prose_sentence", "The quick brown fox jumps over the lazy dog. It wasn't the dog's fault!")
    add("prose_paragraph",
        "Call me Ishmael. Some years ago\u2014never mind how long precisely\u2014having little or no money "
        "in my purse, and nothing particular to interest me on shore, I thought I would sail about a "
        "little and see the watery part of the world.\n\nIt is a way I have of driving off the spleen.")
    add("dialogue_quotes", "\"Is it?\" she asked. 'Yes,' he said; \u201cno\u201d, \u2018maybe\u2019.")
    add("code_python",
        "def foo(x, y=2):\n    return x**y + 0x1F  # comment\n\nif __name__ == '__main__':\n\tprint(foo(3))\n")
    add("code_c", "int main(void){for(int i=0;i<10;++i){printf(\"%d\\n\",i);}return 0;}\r\n")
    add("code_swift", "let xs: [Int] = (1...100).map { $0 * $0 }\nguard let y = xs.first else { return }\n")
    add("json_snippet", "{\"a\": [1, 2.5, -3e10], \"b\": null, \"c\": \"d\\u00e9\"}")
    add("url_email", "See https://example.com/path?q=1&r=two#frag or mail bob.smith+tag@mail.example.org.")
    add("digits_1_to_7", "1 12 123 1234 12345 123456 1234567")
    add("digits_runs_glued", "a1b22c333d4444e55555f666666g7777777h")
    add("digits_separators", "1,234,567.89 and 3.14159 and 1_000_000 and 2024-06-01 12:34:56 +1-800-555-0199")
    add("digits_money_percent", "$1,000.00 \u20ac12,50 \u00a35 99% 0.5% -42 +7 #1 No.3")
    add("digits_then_letters", "123abc abc123 1st 2nd 3rd 4th 10x 0xFF 1e9")
    add("punct_runs", "Wait... what?!?! ---- *** ~~~ ((())) [[x]] {{y}} <<>> ;;;:::,,,")
    add("punct_then_newlines", "end.\n\nnext!\r\n\r\nmore?\n \nlast;\n")
    add("punct_with_space_prefix", "a !b  !!c \t!d")
    add("spaces_leading", "   leading spaces")
    add("spaces_trailing", "trailing spaces   ")
    add("spaces_only", "     ")
    add("spaces_middle", "a  b   c    d")
    add("spaces_before_digit", "x   1 y 2  z\t3")
    add("spaces_before_punct", "x   . y  ,z\t\t!")
    add("tabs_mixed", "\tindent\n\t\tdouble\n  \t mixed \t\n")
    add("newlines_only", "\n\n\n")
    add("crlf_runs", "line1\r\nline2\r\n\r\n\r\nline3\r\n")
    add("cr_only", "a\rb\r\rc\r")
    add("whitespace_then_newline_then_text", "  \n  \nabc\n   abc")
    add("whitespace_end_mixed", "text \t \n \t ")
    add("whitespace_start_mixed", " \t\n\r\n  x")
    add("contractions_lower", "it's we'll they've you're I'd I'm don't")
    add("contractions_upper", "IT'S WE'LL THEY'VE YOU'RE I'D I'M DON'T")
    add("contractions_mixed_case", "it'S we'Ll they'vE you'Re I'lL 'Ve 'rE 'LL 'Ll 'lL")
    add("contractions_bare", "'s 'S 'll 'LL 'Ll 've 'RE 'd 'm 't 'D 'M 'T")
    add("contractions_glued", "'sup 'llama 'dx 'tis 'twas 'mmm 'reply 'vex")
    add("not_contractions", "'x 'q 'a 'l 'v 'r 'e 'z '1 '  ' '' ''' 'é")
    add("curly_apostrophe", "it\u2019s we\u2019ll \u2019S \u2019ll don\u2019t")
    add("long_s_apostrophe", "'\u017f '\u017ft mi\u017f'\u017f \u017f'\u017f\u017f '\u017fſ")
    add("apostrophe_newline", "'\n's\n'\r\n'")
    add("accented_latin", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, se\u00f1or, \u00fcber, na\u00efve, \u00c5ngstr\u00f6m, \u0141\u00f3d\u017a, stra\u00dfe")
    add("combining_marks", "cafe\u0301 e\u0301t\u00e9 n\u0303 a\u0308\u0304b \u0301x Z\u0351\u036b\u0343\u036a")
    add("greek", "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5! \u0391\u0392\u0393 \u03c3\u03bf\u03c6\u03af\u03b1;")
    add("cyrillic", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u043b\u043a\u0430 2024 \u0433\u043e\u0434\u0430.")
    add("cjk", "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8")
    add("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f \u0661\u0662\u0663")
    add("devanagari", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e \u0967\u0968\u0969\u096a")
    add("hebrew_thai", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a")
    add("emoji_basic", "I \u2764 you \U0001F600\U0001F600 ok\U0001F44Dyes \U0001F680!")
    add("emoji_zwj", "family \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 and \U0001F3F3\ufe0f\u200d\U0001F308 flag")
    add("emoji_skin_tones", "\U0001F44D\U0001F3FD \U0001F44B\U0001F3FFhi \U0001F9D1\U0001F3FB\u200d\U0001F4BB")
    add("emoji_flags", "\U0001F1FA\U0001F1F8\U0001F1EC\U0001F1E7 \U0001F1EF\U0001F1F5x \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F")
    add("emoji_keycap", "1\ufe0f\u20e3 #\ufe0f\u20e3 press 9\u20e3")
    add("unicode_digits_arabic_indic", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666 \u06f1\u06f2\u06f3")
    add("unicode_digits_fullwidth", "\uff11\uff12\uff13\uff14\uff15 \uff21\uff22\uff23 \uff10")
    add("unicode_digits_super_fraction", "x\u00b2+y\u00b3=z\u00b9\u2070 \u00bd \u00bc\u00be \u2153 10\u00bd")
    add("unicode_digits_roman_circled", "Henry \u216b and \u2167 \u2460\u2461\u2462 \u2474")
    add("unicode_digits_mixed_scripts", "1\u0661\uff11\u0967\u00b2\u216b3")
    add("nbsp_and_em_space", "a\u00a0b \u00a0c\u2003d\u2003\u2003e \u00a0")
    add("ideographic_space", "\u4e00\u3000\u4e8c\u3000\u3000\u4e09\u3000")
    add("nel_ls_ps", "a\u0085b\u2028c\u2029d \u0085\u2028 e\n\u0085f")
    add("vt_ff", "a\x0bb\x0cc \x0b\x0c d\x0b\nx")
    add("info_separators_not_space", "a\x1cb\x1dc\x1ed\x1fe \x1c\x1d \x1e\x1fword")
    add("zero_width_and_bom", "a\u200bb\u200c\u200dc \ufeffd\u2060e \u180ef")
    add("control_chars", "\x00a\x01\x02b\x7f\x1b[31mred\x1b[0m\x07")
    add("replacement_and_private_use", "\ufffd\ufffdx \ue000\uf8ff y\U000F0000")
    add("spaces_before_letters_digits_punct", " a  b   1    2 .  ,\t\tz\n q")
    add("newline_then_spaces_then_letters", "a\n    b\n\t\tc\r\n  d")
    add("possessive_prefix_then_letters", "(foo) [bar] {baz} -qux _x .y @z #w \\v /u |t")
    add("prefix_emoji_letters", "\U0001F600abc \u00bfQu\u00e9? \u00a1Hola! \u2014dash")

    # Invalid UTF-8
    add("invalid_lone_continuation", b"a\x80b \x80\x81\xbf c\xbf")
    add("invalid_truncated_2", b"ab\xc3 cd\xc3")
    add("invalid_truncated_2_before_letters", b"\xc3abc \xc3xyz")
    add("invalid_truncated_3", b"x\xe2\x82 y\xe2\x82abc z\xe2")
    add("invalid_truncated_4", b"\xf0\x9f\x98 ok \xf0\x9f hi\xf0")
    add("invalid_overlong", b"\xc0\xaf \xc1\xbf \xe0\x80\xaf \xf0\x80\x80\xaf/")
    add("invalid_surrogate_encoded", b"\xed\xa0\x80 \xed\xbf\xbfx \xed\xb2\x80abc")
    add("invalid_f5_plus", b"\xf5\x80\x80\x80 \xf8\x88\x80\x80\x80 \xfc\xfd\xfe\xff")
    add("invalid_ff_fe", b"\xff\xfeh\x00i\x00 \xff")
    add("invalid_mixed_with_valid", b"caf\xc3\xa9\xe9 na\xefve \xe4\xb8\x96\xe4\xb8 12\xff34")
    add("invalid_before_digits_and_space", b"\x80123 \xff 9\xfe\n\xfe\n")
    add("invalid_after_apostrophe", b"'\xc5 '\x80s 's\x80")
    add("invalid_too_large_codepoint", b"\xf4\x90\x80\x80 \xf7\xbf\xbf\xbf")
    return c


def shakespeare_case():
    if not os.path.exists(SHAKESPEARE):
        sys.exit(f"error: {SHAKESPEARE} missing; run tools/make_corpus.py first")
    with open(SHAKESPEARE, "rb") as f:
        data = f.read()
    start = data.index(b"\n", 40000) + 1
    end = data.index(b"\n", start + 3500) + 1
    return [("shakespeare_macbeth_excerpt", data[start:end])]


POOL_COMMON = list("aeiostnrlhdmvEOSTLDMRVqxz") + ["'"] * 6 + [" "] * 8 + list("0123456789")
POOL_TRICKY = (
    list("\t\n\r\n\r.,!?;:-_()[]{}<>\"/\\|@#$%^&*+=~`") +
    ["\u2019", "\u017f", "\u00e9", "\u00f1", "\u00fc", "\u00df", "\u0301", "\u0308", "\u0303",
     "\u03b1", "\u03a9", "\u0436", "\u042f", "\u4e2d", "\u6587", "\u3042", "\ud55c",
     "\u0645", "\u0627", "\u0928", "\u094d", "\u0947", "\u0e2a", "\u0e31",
     "\U0001F600", "\U0001F44D", "\U0001F3FD", "\u200d", "\ufe0f", "\U0001F1FA", "\U0001F1F8",
     "\u0661", "\uff11", "\u0967", "\u00b2", "\u00bd", "\u216b", "\u2460",
     "\u00a0", "\u2003", "\u3000", "\u0085", "\u2028", "\u2029", "\x0b", "\x0c",
     "\x1c", "\x1d", "\x1e", "\x1f", "\u200b", "\ufeff", "\u180e", "\x00", "\x7f", "\ufffd",
     "\u2014", "\u00bf", "\u00a7", "\u20ac"])


def stable_char(ch):
    """True if regex (newer Unicode) and Python's unicodedata agree on ch and ch is
    assigned in Python's Unicode version (so older Unicode tables agree too)."""
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:
        return True
    cat = unicodedata.category(ch)
    if cat == "Cn" or cat == "Cs":
        return False
    if bool(regex.match(r"\p{L}", ch)) != cat.startswith("L"):
        return False
    if bool(regex.match(r"\p{N}", ch)) != cat.startswith("N"):
        return False
    return True


def random_cases():
    rng = random.Random(SEED)
    out = []

    def ok(data):
        return all(stable_char(ch) for ch in data.decode("utf-8", "surrogateescape"))

    # Uniformly random bytes.
    for i in range(10):
        while True:
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 48)))
            if ok(data):
                break
        out.append((f"random_bytes_{i:02d}", data))
    # Random bytes biased to ASCII whitespace/letters/apostrophes, with cut UTF-8.
    frags = [u(ch) for ch in POOL_TRICKY] + [u(ch) for ch in POOL_COMMON]
    for i in range(8):
        parts = []
        for _ in range(rng.randint(3, 24)):
            r = rng.random()
            if r < 0.6:
                parts.append(rng.choice(frags))
            elif r < 0.8:
                f = rng.choice(frags)
                parts.append(f[: rng.randint(0, len(f))] if len(f) > 1 else bytes([rng.randrange(128, 256)]))
            else:
                parts.append(bytes([rng.randrange(256)]))
        data = b"".join(parts)
        assert ok(data)
        out.append((f"random_mixed_bytes_{i:02d}", data))
    # Random strings from the tricky pool.
    for i in range(14):
        n = rng.randint(1, 60)
        s = "".join(rng.choice(POOL_COMMON) if rng.random() < 0.55 else rng.choice(POOL_TRICKY)
                    for _ in range(n))
        out.append((f"random_tricky_{i:02d}", u(s)))
    # Longer random cases.
    s = "".join(rng.choice(POOL_COMMON) if rng.random() < 0.6 else rng.choice(POOL_TRICKY)
                for _ in range(1800))
    out.append(("long_random_tricky", u(s)))
    while True:
        data = bytes(rng.randrange(256) for _ in range(2500))
        if ok(data):
            break
    out.append(("long_random_bytes", data))
    return out


def long_fixed_cases():
    prose = []
    langs = [
        "In the beginning was the Word, and the Word was with God.",
        "\u00c0 la claire fontaine, m'en allant promener, j'ai trouv\u00e9 l'eau si belle.",
        "\u00bfD\u00f3nde est\u00e1 la biblioteca? Est\u00e1 a 300 metros.",
        "Der Stra\u00dfenbahnfahrer f\u00e4hrt \u00fcber die Br\u00fccke, 12.345 Menschen jubeln.",
        "\u0412 \u043d\u0430\u0447\u0430\u043b\u0435 \u0431\u044b\u043b\u043e \u0421\u043b\u043e\u0432\u043e.",
        "\u1f18\u03bd \u1f00\u03c1\u03c7\u1fc7 \u1f26\u03bd \u1f41 \u03bb\u03cc\u03b3\u03bf\u03c2.",
        "\u592a\u521d\u6709\u9053\uff0c\u9053\u4e0e\u795e\u540c\u5728\u3002",
        "\u0641\u064a \u0627\u0644\u0628\u062f\u0621 \u0643\u0627\u0646 \u0627\u0644\u0643\u0644\u0645\u0629.",
        "\u0906\u0926\u093f \u092e\u0947\u0902 \u0935\u091a\u0928 \u0925\u093e\u0964",
        "Emoji time \U0001F389\U0001F389 \U0001F468\u200d\U0001F4BB wrote 1234567 lines\u2026",
    ]
    for i in range(6):
        for line in langs:
            prose.append(f"{i}.{len(line)} {line}")
        prose.append("\r\n" if i % 2 else "\n\n")
    text = "\n".join(prose)
    code = []
    for i in range(40):
        code.append(f"    let value{i} = compute(x: {i * 37 % 1000}, y: \"s{i}\")  // it's #{i}\n")
        if i % 7 == 0:
            code.append("\n\t\t\n")
    return [("long_multilingual_prose", u(text)), ("long_code", u("func f() {\n" + "".join(code) + "}\n"))]


# ---------------------------------------------------------------------------
# Optional cross-check against tiktoken's own regex engine.
# ---------------------------------------------------------------------------

def bpe_encode_chunk(piece: bytes, ranks: dict):
    """Same algorithm as tiktoken: whole-piece lookup, else lowest-rank leftmost merge."""
    if piece in ranks:
        return [ranks[piece]]
    parts = [piece[i:i + 1] for i in range(len(piece))]
    while len(parts) > 1:
        best, best_i = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best):
                best, best_i = r, i
        if best is None:
            break
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return [ranks[p] for p in parts]


def tiktoken_cross_check(cases):
    try:
        import tiktoken
    except ImportError:
        print("tiktoken not installed: skipping cross-check")
        return True
    valid = []
    for name, data in cases:
        try:
            valid.append((name, data, data.decode("utf-8")))
        except UnicodeDecodeError:
            pass
    # Vocab: all bytes, then every distinct 2..4-byte substring of the inputs
    # (these span chunk boundaries, so a different split changes the tokens).
    grams = set()
    for _, data, _ in valid:
        for n in (2, 3, 4):
            for i in range(len(data) - n + 1):
                grams.add(data[i:i + n])
    grams = sorted(grams)
    random.Random(SEED).shuffle(grams)
    ranks = {bytes([i]): i for i in range(256)}
    for g in grams:
        ranks[g] = len(ranks)
    enc = tiktoken.Encoding(name="split-check", pat_str=PATTERN, mergeable_ranks=ranks,
                            special_tokens={})
    bad = 0
    for name, data, text in valid:
        want = [t for ch in split_bytes(data) for t in bpe_encode_chunk(ch, ranks)]
        got = enc.encode_ordinary(text)
        if got != want:
            bad += 1
            print(f"tiktoken disagrees on case {name!r}")
    print(f"tiktoken cross-check: {len(valid) - bad}/{len(valid)} valid-UTF-8 cases agree "
          f"(vocab {len(ranks)})")
    return bad == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--no-tiktoken-check", action="store_true")
    args = ap.parse_args()

    cases = fixed_cases() + shakespeare_case() + long_fixed_cases() + random_cases()
    names = [n for n, _ in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    for name, data in cases:
        text = data.decode("utf-8", "surrogateescape")
        unstable = [f"U+{ord(ch):04X}" for ch in text if not stable_char(ch)]
        assert not unstable, (name, unstable)

    lines = []
    for name, data in cases:
        chunks = split_bytes(data)
        obj = {"name": name,
               "input": base64.b64encode(data).decode("ascii"),
               "chunks": [base64.b64encode(ch).decode("ascii") for ch in chunks]}
        lines.append(json.dumps(obj, separators=(", ", ": ")))
    body = ('{"pattern": ' + json.dumps(PATTERN) + ',\n"cases": [\n' +
            ",\n".join(lines) + "\n]}\n")
    json.loads(body)  # sanity
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="ascii", newline="\n") as f:
        f.write(body)
    print(f"wrote {args.out}: {len(cases)} cases, {len(body)} bytes")

    if not args.no_tiktoken_check and not tiktoken_cross_check(cases):
        sys.exit(1)


if __name__ == "__main__":
    main()
