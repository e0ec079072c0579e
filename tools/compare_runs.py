#!/usr/bin/env python3
"""Compare the training figures of two run folders, bit for bit.

For a refactor that must not change behaviour: run `./run.sh quick --out A` before and
`./run.sh quick --out B` after (same seeds, same machine and thread count), then

    python3 tools/compare_runs.py A B

For every stage folder with a log.jsonl (base, mid, sft, rl, and any later stage), it reads each
record's learning figures -- loss, lr, val_loss, val_bpb, reward, pass1 -- in order, and compares
them exactly (as the strings' float values; timings and speeds are ignored; a figure only one side
logs is named and skipped). It also compares every
chat-eval result (eval.jsonl: task, correct, total, pass@k) and the weights of each stage's final
checkpoint (model.safetensors, tensor bytes; the header's metadata may differ). Prints a line per
stage and exits 1 on any difference. No dependencies.
"""
import hashlib
import json
import os
import struct
import sys

FIGURES = ("loss", "lr", "val_loss", "val_bpb", "reward", "pass1")
EVAL_KEYS = ("source", "task", "correct", "total", "pass_at_k", "seed")


def records(path, keys):
    out = []
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            picked = {k: r[k] for k in keys if k in r}
            if "step" in r:
                picked["step"] = r["step"]
            if picked:
                out.append(picked)
    return out


def tensor_digest(path):
    """SHA-256 of each tensor's bytes, by name (the JSON header's metadata is left out)."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {k: hashlib.sha256(data[v["data_offsets"][0]:v["data_offsets"][1]]).hexdigest()
            for k, v in header.items() if k != "__metadata__"}


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    a, b = sys.argv[1], sys.argv[2]
    stages = sorted({d for root in (a, b) if os.path.isdir(root) for d in os.listdir(root)
                     if os.path.exists(os.path.join(root, d, "log.jsonl"))})
    if not stages:
        print(f"no stage with a log.jsonl in {a} or {b}")
        return 2
    bad = 0
    for s in stages:
        for name, keys in (("log.jsonl", FIGURES), ("eval.jsonl", EVAL_KEYS)):
            ra = records(os.path.join(a, s, name), keys)
            rb = records(os.path.join(b, s, name), keys)
            if ra is None and rb is None:
                continue
            # A figure that only one side logs (a field added by the change) is named, not compared.
            only = sorted({k for r in ra or [] for k in r} ^ {k for r in rb or [] for k in r})
            if only:
                print(f"note    {s}/{name}: only one side logs {only}")
                ra = [{k: v for k, v in r.items() if k not in only} for r in ra or []]
                rb = [{k: v for k, v in r.items() if k not in only} for r in rb or []]
            if ra != rb:
                bad += 1
                first = next((i for i, (x, y) in enumerate(zip(ra or [], rb or [])) if x != y), None)
                where = (f"record {first + 1}: {ra[first]} vs {rb[first]}" if first is not None
                         else f"{len(ra or [])} vs {len(rb or [])} records")
                print(f"DIFFER  {s}/{name}: {where}")
            else:
                print(f"same    {s}/{name}: {len(ra)} records")
        ta = tensor_digest(os.path.join(a, s, "model.safetensors"))
        tb = tensor_digest(os.path.join(b, s, "model.safetensors"))
        if ta is not None or tb is not None:
            if ta != tb:
                bad += 1
                names = sorted(k for k in set(ta or {}) | set(tb or {}) if (ta or {}).get(k) != (tb or {}).get(k))
                print(f"DIFFER  {s}/model.safetensors: {len(names)} tensors differ, e.g. {names[:3]}")
            else:
                print(f"same    {s}/model.safetensors: {len(ta)} tensors, identical bytes")
    print("identical" if bad == 0 else f"{bad} differences")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
