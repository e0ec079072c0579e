#!/usr/bin/env python3
"""Checks a nanochat LoRA adapter folder with Hugging Face's own `safetensors` reader, independently of
the Swift code: the tensor names are PEFT's (base_model.model.transformer.h.{i}.<module>.lora_{A,B}.weight),
A is (r, in) and B is (out, r) for every target in adapter_config.json, nothing else is in the file, and
the base checkpoint's model.safetensors hashes to the recorded SHA-256.

    pip install safetensors numpy
    python3 tools/check_adapter.py out/sft-lora [--base out/mid] [--merged out/sft-lora-merged]

With --merged (a `nanochat lora-merge` output), also checks the merge in numpy: every adapted matrix
equals W + (alpha/r)·B·A of the base and the adapter within 1e-5, every other tensor is the base's,
bit for bit (or the adapter's copy, for modules_to_save).

Prints what it checked and exits 1 on the first mismatch."""

import argparse
import hashlib
import json
import os
import sys

from safetensors import safe_open

# PEFT target_modules entry -> the module path inside a block, and (out, in) as multiples of n_embd C.
MODULES = {
    "c_q": ("attn.c_q", (1, 1)), "c_k": ("attn.c_k", None), "c_v": ("attn.c_v", None),
    "attn.c_proj": ("attn.c_proj", (1, 1)), "c_fc": ("mlp.c_fc", (4, 1)), "mlp.c_proj": ("mlp.c_proj", (1, 4)),
}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("adapter", help="the adapter folder (adapter_model.safetensors + adapter_config.json)")
    ap.add_argument("--base", help="the base checkpoint folder (default: the one the config names)")
    ap.add_argument("--merged", help="a lora-merge output to check against base + adapter")
    a = ap.parse_args()

    with open(os.path.join(a.adapter, "adapter_config.json")) as f:
        cfg = json.load(f)
    r, alpha, targets = cfg["r"], cfg["lora_alpha"], cfg["target_modules"]
    print(f"adapter_config.json: peft_type {cfg['peft_type']}, task_type {cfg['task_type']}, r {r}, "
          f"lora_alpha {alpha}, target_modules {targets}")
    base = a.base or cfg["base_model_name_or_path"]
    with open(os.path.join(base, "model.safetensors"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != cfg["base_model_sha256"]:
        fail(f"{base}/model.safetensors hashes to {digest}, the config records {cfg['base_model_sha256']}")
    print(f"base {base}: SHA-256 {digest[:16]}... matches base_model_sha256")

    with safe_open(os.path.join(base, "model.safetensors"), framework="numpy") as f:
        meta = f.metadata()
    C, L = int(meta["n_embd"]), int(meta["n_layer"])
    kv = int(meta["n_kv_head"]) * (C // int(meta["n_head"]))

    path = os.path.join(a.adapter, "adapter_model.safetensors")
    with safe_open(path, framework="numpy") as f:
        names = set(f.keys())
        expected = set()
        for layer in range(L):
            for t in targets:
                if t not in MODULES:
                    fail(f"target module {t} is not one of {sorted(MODULES)}")
                module, mult = MODULES[t]
                out_dim, in_dim = (mult[0] * C, mult[1] * C) if mult else (kv, C)
                prefix = f"base_model.model.transformer.h.{layer}.{module}."
                for name, shape in ((prefix + "lora_A.weight", (r, in_dim)), (prefix + "lora_B.weight", (out_dim, r))):
                    expected.add(name)
                    if name not in names:
                        fail(f"{path} lacks {name}")
                    got = tuple(f.get_slice(name).get_shape())
                    if got != shape:
                        fail(f"{name} has shape {got}, expected {shape}")
        for module in cfg.get("modules_to_save") or []:  # --lora-heads: trained in full, saved whole
            name = {"wte": "base_model.model.transformer.wte.weight", "lm_head": "base_model.model.lm_head.weight"}[module]
            expected.add(name)
            if name not in names:
                fail(f"{path} lacks {name} (modules_to_save names {module})")
        if names != expected:
            fail(f"{path} holds tensors no target explains: {sorted(names - expected)[:3]}")
        example = sorted(names)[0]
        tensor = f.get_tensor(example)
        print(f"{path}: {len(names)} tensors, every name and shape as PEFT's LoRA layout; "
              f"e.g. {example} {tensor.shape} {tensor.dtype}, metadata format={f.metadata().get('format')}")
    if a.merged:
        check_merged(a.merged, os.path.join(base, "model.safetensors"), path, alpha / r)
    print("ok")


def check_merged(merged_dir, base_path, adapter_path, scale):
    from safetensors.numpy import load_file
    merged = load_file(os.path.join(merged_dir, "model.safetensors"))
    base, adapter = load_file(base_path), load_file(adapter_path)
    prefix, worst, same = "base_model.model.", 0.0, 0
    for name, w in base.items():
        stem = name[: -len(".weight")]
        if prefix + name in adapter:  # modules_to_save: the adapter's copy replaces the base's
            expected = adapter[prefix + name]
        elif prefix + stem + ".lora_A.weight" in adapter:
            A, B = adapter[prefix + stem + ".lora_A.weight"], adapter[prefix + stem + ".lora_B.weight"]
            expected = (w.astype("float64") + scale * (B.astype("float64") @ A.astype("float64"))).astype("float32")
            worst = max(worst, float(abs(merged[name] - expected).max()))
            continue
        else:
            expected = w
        if not (merged[name] == expected).all():
            fail(f"{merged_dir}: {name} differs from what base + adapter give")
        same += 1
    if worst > 1e-5:
        fail(f"{merged_dir}: an adapted matrix is off by {worst:.2e} from W + (alpha/r)·B·A")
    print(f"{merged_dir}: adapted matrices equal W + (alpha/r)·B·A within {worst:.1e}; "
          f"the other {same} tensors bit for bit")


if __name__ == "__main__":
    main()
