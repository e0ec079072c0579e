#!/usr/bin/env python3
"""Inspect and validate a nanochat-swift safetensors checkpoint.

Prints every tensor (name, dtype, shape, and min/max/mean for float tensors)
and the __metadata__, then checks that every GPT parameter expected for the
config in the metadata is present with the right shape and dtype F32/F16/BF16,
and that its values are finite.

Config keys read from __metadata__: n_layer, n_embd, n_head, n_kv_head,
vocab_size (head_dim: from metadata, else n_embd / n_head). Any of them can be
given or overridden on the command line (--n-layer etc).

Extra tensors (gradients, optimizer state, fixture data) are listed and
ignored, unless --strict, which rejects them.

Exit status: 0 if the checkpoint is valid, 1 otherwise.

The header is parsed directly (works without any package, for any dtype);
when the `safetensors` package is installed the file is also loaded with it
(torch framework if torch is installed, else numpy) as a second reader.
"""

import argparse
import json
import math
import os
import struct
import sys

DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}
PARAM_DTYPES = {"F32", "F16", "BF16"}
CONFIG_KEYS = ["n_layer", "n_embd", "n_head", "n_kv_head", "vocab_size", "head_dim"]


from gpt_names import param_shapes as expected_params  # noqa: E402  (tools/gpt_names.py)


def read_header(path, errors):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            errors.append("file shorter than 8 bytes")
            return None, {}
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8:
            errors.append(f"header length {n} exceeds file size {size}")
            return None, {}
        hbytes = f.read(n)
    try:
        header = json.loads(hbytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        errors.append(f"header is not valid UTF-8 JSON: {e}")
        return None, {}
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        errors.append("__metadata__ must map strings to strings")
        meta = {}
    # byte-range validation: each tensor's size matches dtype*shape; ranges tile the data exactly
    data_len = size - 8 - n
    ranges = []
    for name, info in header.items():
        dt, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dt not in DTYPE_SIZES or not isinstance(shape, list) or not isinstance(offs, list) or len(offs) != 2:
            errors.append(f"{name}: malformed entry {info}")
            continue
        want = DTYPE_SIZES[dt] * math.prod(shape)
        if offs[1] - offs[0] != want:
            errors.append(f"{name}: byte range {offs} holds {offs[1] - offs[0]} bytes, {dt}{shape} needs {want}")
        ranges.append((offs[0], offs[1], name))
    ranges.sort()
    pos = 0
    for a, b, name in ranges:
        if a != pos:
            errors.append(f"{name}: data starts at {a}, expected {pos} (gap or overlap)")
        pos = max(pos, b)
    if pos != data_len:
        errors.append(f"tensor data covers {pos} bytes but the file has {data_len} after the header")
    return header, meta


def load_values(path):
    """{name: (min, max, mean, all_finite)} for float tensors via safetensors, or None if unavailable."""
    try:
        from safetensors import safe_open
    except ImportError:
        return None, "safetensors not installed: values not loaded (header checks only)"
    try:
        import torch  # noqa: F401
        framework = "pt"
    except ImportError:
        framework = "numpy"
    stats = {}
    with safe_open(path, framework=framework) as f:
        for name in f.keys():
            try:
                t = f.get_tensor(name)
            except Exception as e:  # e.g. BF16 under numpy
                stats[name] = ("unreadable: " + str(e).splitlines()[0],)
                continue
            if framework == "pt":
                if not t.is_floating_point():
                    continue
                t = t.double()
                finite = bool(t.isfinite().all())
                if t.numel() == 0:
                    stats[name] = (0.0, 0.0, 0.0, True)
                else:
                    stats[name] = (t.min().item(), t.max().item(), t.mean().item(), finite)
            else:
                import numpy as np
                if t.dtype.kind != "f":
                    continue
                t = t.astype(np.float64)
                finite = bool(np.isfinite(t).all())
                if t.size == 0:
                    stats[name] = (0.0, 0.0, 0.0, True)
                else:
                    stats[name] = (float(t.min()), float(t.max()), float(t.mean()), finite)
    return stats, f"values loaded with safetensors ({framework})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--strict", action="store_true", help="reject tensors that are not model parameters")
    for k in CONFIG_KEYS:
        ap.add_argument("--" + k.replace("_", "-"), type=int, dest=k, help=f"override metadata {k}")
    args = ap.parse_args()

    if not os.path.isfile(args.path):
        print(f"error: no such file: {args.path}")
        return 1
    errors = []
    header, meta = read_header(args.path, errors)
    if header is None or errors:  # structurally broken: do not hand it to a loader
        for e in errors:
            print("error: " + e)
        return 1
    try:
        stats, how = load_values(args.path)
    except Exception as e:
        print(f"error: safetensors could not load the file: {e}")
        return 1

    print(f"{args.path}: {os.path.getsize(args.path)} bytes, {len(header)} tensors ({how})")
    width = max([len(n) for n in header] + [4])
    for name in sorted(header):
        info = header[name]
        line = f"  {name:{width}s}  {info['dtype']:5s} {str(tuple(info['shape'])):16s}"
        if stats is not None and name in stats:
            st = stats[name]
            if len(st) == 1:
                line += "  " + st[0]
            else:
                line += f"  min {st[0]: .4g}  max {st[1]: .4g}  mean {st[2]: .4g}" + ("" if st[3] else "  NON-FINITE")
        print(line)
    print("metadata:")
    for k in sorted(meta):
        print(f"  {k} = {meta[k]}")

    cfg = {}
    for k in CONFIG_KEYS:
        v = getattr(args, k)
        if v is None and k in meta:
            try:
                v = int(meta[k])
            except ValueError:
                errors.append(f"metadata {k}={meta[k]!r} is not an integer")
        if v is not None:
            cfg[k] = v
    if "head_dim" not in cfg and "n_embd" in cfg and "n_head" in cfg:
        if cfg["n_head"] > 0 and cfg["n_embd"] % cfg["n_head"] == 0:
            cfg["head_dim"] = cfg["n_embd"] // cfg["n_head"]
        else:
            errors.append(f"n_embd={cfg['n_embd']} is not divisible by n_head={cfg['n_head']}")
    missing_cfg = [k for k in CONFIG_KEYS if k not in cfg]
    if missing_cfg and missing_cfg != ["head_dim"]:
        missing_cfg = [k for k in missing_cfg if k != "head_dim"]
    if missing_cfg:
        errors.append("config incomplete (not in metadata nor given): " + ", ".join(missing_cfg))
    elif cfg["n_kv_head"] <= 0 or cfg["n_head"] % cfg["n_kv_head"] != 0:
        errors.append(f"n_head={cfg['n_head']} is not a multiple of n_kv_head={cfg['n_kv_head']}")

    if not missing_cfg:
        expected = expected_params(cfg)
        print("config: " + ", ".join(f"{k}={cfg[k]}" for k in CONFIG_KEYS))
        for name, shape in expected.items():
            if name not in header:
                errors.append(f"missing parameter {name} {shape}")
                continue
            info = header[name]
            if tuple(info["shape"]) != shape:
                errors.append(f"{name}: shape {tuple(info['shape'])}, expected {shape}")
            if info["dtype"] not in PARAM_DTYPES:
                errors.append(f"{name}: dtype {info['dtype']}, expected one of {sorted(PARAM_DTYPES)}")
            if stats is not None and name in stats:
                st = stats[name]
                if len(st) == 1:
                    errors.append(f"{name}: {st[0]}")
                elif not st[3]:
                    errors.append(f"{name}: contains NaN or Inf")
        extras = sorted(set(header) - set(expected))
        if extras:
            if args.strict:
                errors.append(f"--strict: {len(extras)} unexpected tensors: " + ", ".join(extras))
            else:
                print(f"ignored {len(extras)} extra tensors (use --strict to reject them)")

    if errors:
        for e in errors:
            print("error: " + e)
        print("FAIL")
        return 1
    print(f"OK: all {len(expected)} parameters present with the expected shapes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
