#!/usr/bin/env python3
"""How low-rank is a fine-tune's weight update? For every matrix inside the blocks, the singular values
of dW = W_after - W_before, and the share of dW's squared Frobenius norm that its best rank-r
approximation keeps (Eckart-Young: the sum of the top r squared singular values over all of them).
LoRA's bet (Hu et al. 2021) is that this share is high for small r.

    pip install safetensors numpy
    python3 tools/delta_rank.py out/mid out/sft [--ranks 2,8,32]
"""
import argparse
import os

import numpy as np
from safetensors.numpy import load_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", help="checkpoint folder before fine-tuning")
    ap.add_argument("after", help="checkpoint folder after (full fine-tuning)")
    ap.add_argument("--ranks", default="2,8,32")
    a = ap.parse_args()
    ranks = [int(r) for r in a.ranks.split(",")]
    w0 = load_file(os.path.join(a.before, "model.safetensors"))
    w1 = load_file(os.path.join(a.after, "model.safetensors"))
    kinds = {}
    print(f"{'matrix':34s} {'|dW|/|W|':>9s} " + " ".join(f"{'top ' + str(r):>7s}" for r in ranks))
    for name in sorted(w0):
        if not name.startswith("transformer.h."):
            continue
        d = (w1[name] - w0[name]).astype(np.float64)
        s2 = np.linalg.svd(d, compute_uv=False) ** 2
        shares = [s2[:r].sum() / s2.sum() for r in ranks]
        rel = np.linalg.norm(d) / np.linalg.norm(w0[name]) if np.linalg.norm(w0[name]) > 0 else float("inf")
        print(f"{name:34s} {rel:9.3f} " + " ".join(f"{100 * s:6.1f}%" for s in shares))
        kinds.setdefault(name.split(".", 3)[3], []).append(shares)
    rng = np.random.default_rng(0)
    for shape in ((256, 256), (1024, 256)):
        s2 = np.linalg.svd(rng.standard_normal(shape), compute_uv=False) ** 2
        print(f"{'random Gaussian ' + str(shape):34s} {'':9s} "
              + " ".join(f"{100 * s2[:r].sum() / s2.sum():6.1f}%" for r in ranks) + "  (no low-rank structure)")
    print("mean by layer kind:")
    for k, v in sorted(kinds.items()):
        m = np.mean(v, axis=0)
        print(f"  {k:30s} " + " ".join(f"top {r}: {100 * x:5.1f}%" for r, x in zip(ranks, m)))
    for name in ("transformer.wte.weight", "lm_head.weight"):
        d = w1[name] - w0[name]
        print(f"{name}: |dW|/|W| = {np.linalg.norm(d) / np.linalg.norm(w0[name]):.3f} (not adapted by LoRA here)")


if __name__ == "__main__":
    main()
