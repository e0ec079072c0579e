#!/usr/bin/env python3
"""Write the GPT reference fixture for the Swift tests.

An independent float64 PyTorch implementation of our GPT (rmsnorm without
weights, rotary, QK-norm, GQA, relu^2 MLP, tanh logit soft-cap, weighted
per-token cross-entropy) and of our optimizers (AdamW for the embedding and
lm_head, Muon with Polar Express for the block matrices).

Output (default): Tests/nanochatTests/fixtures/gpt_reference.safetensors, all
tensors F32 little-endian:
  <param>            initial weights (float32-rounded; all math uses them as float64)
  inputs/targets     (B,T) token ids stored as F32
  weights            (B,T) per-token loss weights (0 = ignore, may be negative)
  logits             (B,T,V) soft-capped logits at the initial weights
  loss (1,), ce (B,T)
  grad.<param>       d loss / d param at the initial weights (autograd, float64)
  step_losses (4,)   loss before each of 3 optimizer steps and after the last
  after.<param>      weights after the 3 optimizer steps (fixed learning rates
                     lr_wte/lr_lm_head/lr_muon, weight_decay; no width scaling)
  default.step_losses (4,), default.after.<param>
                     the same 3 steps from the same weights and batch with Swift's
                     default hyper-parameters (OptimizerHyper(): AdamW rates 0.2 for
                     wte and 0.004 for lm_head, both times the width scale
                     (C/768)^-0.5 = default_lr_scale; Muon 0.02; no weight decay;
                     same betas, eps and momentum; lr multiplier 1)
  __metadata__       config and hyper-parameters (strings; default_* for the second run)

Cross-checked against nanochat's own code (tools/check_against_nanochat.py, once, against
two checkouts of github.com/karpathy/nanochat, since no single commit has both our GPT and our
Muon): 83dccc20aeab (2026-03-03, the newest whose gpt.py is our GPT once its resid/x0 lambdas,
value embeddings and sliding windows are turned off) and f10bd751efb1 (2026-07-02, the newest
whose Muon normalises by 1.01 and has no MuonEq/Muon+). Max relative errors, float64: logits
6.2e-16, per-token cross-entropy 3.3e-16, weighted loss 0, gradients 1.5e-15 (the fixture's
weights) and 1.1e-15 (all-ones weights, nanochat's mean loss); against this fixture's float32
tensors: logits 1.0e-7, gradients 7.7e-7; nanochat as shipped in float32 (bf16 rotary tables at
that commit) against this reference fed the same tables: logits 2.8e-7, gradients 6.2e-7.
Polar Express of every block gradient 2.2e-16 (f10bd751; 2.4e-16 at 83dccc20 with its 1.02);
MuonAdamW, 3 steps, lr*max(1, rows/cols)^0.5 with Nesterov 0.95, NorMuon off: 9.9e-14; AdamW
5.3e-15; the AdamW width scale (C/768)^-0.5 exact; nanochat's model + setup_optimizer for the 3
default steps: weights 1.9e-14, losses 4.1e-16 (at 83dccc20's 1.02). Differences: nanochat's
Muon also applies NorMuon variance reduction after the orthogonalisation (since 2026-01-11;
beta2 0.95, 0.9 since 2026-03-09), which ours, as DESIGN.md section 3, lacks (after 3 steps the
updates differ by 0.7 of their largest entry, same Frobenius norm); its normalisation factor was
1.02 before 2026-03-09 (a 0.11 relative change of the orthogonalised update here).

The file is written by a small writer of our own (sorted header keys) rather
than safetensors.torch.save_file, because the library serialises
__metadata__ in a random (hash) order, which would make the bytes differ
between runs. The result is read back with the safetensors library and
compared bit for bit before the script exits.

Usage: python3 tools/make_gpt_fixture.py [--out PATH] [--skip-fd]
"""

import argparse
import contextlib
import hashlib
import importlib
import io
import json
import os
import struct
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "Tests", "nanochatTests", "fixtures", "gpt_reference.safetensors")


# ----------------------------------------------------------------------------
# dependencies


from pipdeps import _pip_install, ensure_torch  # noqa: E402  (tools/pipdeps.py)


def ensure_deps():
    missing = []
    for mod in ("numpy", "safetensors"):
        try:
            importlib.import_module(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        _pip_install(missing)
    ensure_torch()


ensure_deps()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors import safe_open  # noqa: E402

torch.set_num_threads(1)  # bitwise-reproducible reductions
torch.use_deterministic_algorithms(True)
DT = torch.float64

# ----------------------------------------------------------------------------
# configuration

CFG = dict(n_layer=2, n_embd=64, n_head=4, n_kv_head=2, head_dim=16, vocab_size=64,
           sequence_len=8, batch=2)
RMS_EPS = 1.1920928955078125e-07  # float32 machine epsilon
SOFTCAP = 15.0
ROPE_BASE = 10000.0
LR_WTE = 0.2
LR_LM_HEAD = 0.004
LR_MUON = 0.02
MOMENTUM = 0.95
WEIGHT_DECAY = 0.01
ADAM_BETAS = (0.8, 0.95)
ADAM_EPS = 1e-10
STEPS = 3
PARAM_SEED = 1337
DATA_SEED = 42
LM_HEAD_STD_GAIN = 3.0  # lm_head std = gain/sqrt(C): logits of O(1..10) so the soft-cap matters

# The second optimizer run ("default."): Swift's default hyper-parameters, OptimizerHyper() in
# Sources/nanochat/Optim/Optimizer.swift (scaleByWidth true: the AdamW rates of wte and lm_head times
# (C/768)^-0.5; Muon's rate unscaled; no weight decay). Betas/eps as above (AdamWHyper in AdamW.swift),
# same momentum, lr multiplier 1, same initial weights and batch.
DEFAULT_LR_WTE = 0.2
DEFAULT_LR_LM_HEAD = 0.004
DEFAULT_LR_MUON = 0.02
DEFAULT_WEIGHT_DECAY = 0.0


def width_scale(cfg):
    """Optimizer.widthScale: (C/768)^-0.5, as nanochat's setup_optimizers (dmodel_lr_scale)."""
    return (cfg["n_embd"] / 768) ** -0.5


def fixed_hyper(cfg):
    """The first run: fixed rates, no width scaling (the Swift test sets scaleByWidth: false)."""
    return dict(lr_wte=LR_WTE, lr_lm_head=LR_LM_HEAD, lr_muon=LR_MUON, weight_decay=WEIGHT_DECAY)


def default_hyper(cfg):
    """The second run: Swift's OptimizerHyper() defaults, width scaling included."""
    s = width_scale(cfg)
    return dict(lr_wte=DEFAULT_LR_WTE * s, lr_lm_head=DEFAULT_LR_LM_HEAD * s, lr_muon=DEFAULT_LR_MUON,
                weight_decay=DEFAULT_WEIGHT_DECAY)

POLAR_NORM_FACTOR = 1.01  # X = G / (|G|_F * 1.01 + 1e-6) before the iterations (nanochat since 2026-03-09; 1.02 before)
POLAR_EXPRESS = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]


from gpt_names import param_shapes  # noqa: E402  (tools/gpt_names.py)


def init_params(cfg):
    """Random, non-nanochat init (nothing zero), rounded to float32, returned as float64."""
    g = torch.Generator().manual_seed(PARAM_SEED)
    C = cfg["n_embd"]
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name == "transformer.wte.weight":
            w = torch.randn(shape, generator=g, dtype=torch.float32)
        elif name == "lm_head.weight":
            w = torch.randn(shape, generator=g, dtype=torch.float32) * (LM_HEAD_STD_GAIN / C ** 0.5)
        else:
            bound = 1.0 / shape[1] ** 0.5
            w = (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * bound
        params[name] = w.to(torch.float32).to(DT)
    return params


def make_batch(cfg):
    g = torch.Generator().manual_seed(DATA_SEED)
    B, T, V = cfg["batch"], cfg["sequence_len"], cfg["vocab_size"]
    idx = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    w = torch.ones(B, T, dtype=DT)
    w[0, 2] = 0.0
    w[1, 0] = 0.0
    w[1, 5] = 0.0
    w[0, 6] = 0.5
    w[1, 3] = -0.25
    return idx, targets, w


# ----------------------------------------------------------------------------
# model (float64)


def rmsnorm(x):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + RMS_EPS)


def rotary_cos_sin(T, hd, dtype=DT):
    j = torch.arange(hd // 2, dtype=DT)
    inv_freq = 1.0 / (ROPE_BASE ** (2.0 * j / hd))
    t = torch.arange(T, dtype=DT)
    ang = t[:, None] * inv_freq[None, :]  # (T, hd/2)
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def apply_rotary(x, cos, sin):
    # x: (B, T, H, hd); cos/sin: (T, hd/2)
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    y1 = x1 * c + x2 * s
    y2 = -x1 * s + x2 * c
    return torch.cat([y1, y2], dim=-1)


def attention_core(q, k, v, n_head, n_kv_head):
    # q: (B,T,nh,hd), k/v: (B,T,nkv,hd) -> (B,T,nh*hd); explicit masked softmax
    B, T, _, hd = q.shape
    group = n_head // n_kv_head
    kv_of = torch.arange(n_head) // group
    k = k[:, :, kv_of, :]
    v = v[:, :, kv_of, :]
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B,nh,T,hd)
    att = (q @ k.transpose(-1, -2)) / hd ** 0.5
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    att = att.masked_fill(~mask, float("-inf"))
    att = torch.softmax(att, dim=-1)
    y = att @ v  # (B,nh,T,hd)
    return y.transpose(1, 2).reshape(B, T, n_head * hd)


def attention_sdpa(q, k, v, n_head, n_kv_head):
    """Cross-check of attention_core with torch's fused kernel."""
    B, T, _, hd = q.shape
    group = n_head // n_kv_head
    k = k.repeat_interleave(group, dim=2)
    v = v.repeat_interleave(group, dim=2)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       is_causal=True)
    return y.transpose(1, 2).reshape(B, T, n_head * hd)


def forward(params, idx, targets, weights, cfg, attn_fn=attention_core):
    B, T = idx.shape
    nh, nkv, hd = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    wte = params["transformer.wte.weight"]
    weights = weights.to(wte.dtype)
    cos, sin = rotary_cos_sin(T, hd, wte.dtype)
    x = wte[idx]
    x = rmsnorm(x)
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        h = rmsnorm(x)
        q = (h @ params[p + "attn.c_q.weight"].T).view(B, T, nh, hd)
        k = (h @ params[p + "attn.c_k.weight"].T).view(B, T, nkv, hd)
        v = (h @ params[p + "attn.c_v.weight"].T).view(B, T, nkv, hd)
        q = rmsnorm(apply_rotary(q, cos, sin))
        k = rmsnorm(apply_rotary(k, cos, sin))
        y = attn_fn(q, k, v, nh, nkv)
        x = x + y @ params[p + "attn.c_proj.weight"].T
        h = rmsnorm(x)
        h = torch.relu(h @ params[p + "mlp.c_fc.weight"].T) ** 2
        x = x + h @ params[p + "mlp.c_proj.weight"].T
    x = rmsnorm(x)
    logits = x @ params["lm_head.weight"].T
    logits = SOFTCAP * torch.tanh(logits / SOFTCAP)
    lse = torch.logsumexp(logits, dim=-1)
    ce = lse - logits.gather(-1, targets[..., None])[..., 0]
    loss = (weights * ce).sum() / (weights != 0).sum()
    return logits, ce, loss


# ----------------------------------------------------------------------------
# optimizers (float64)


class AdamW:
    def __init__(self, lr, wd, betas=ADAM_BETAS, eps=ADAM_EPS):
        self.lr, self.wd, self.b1, self.b2, self.eps = lr, wd, betas[0], betas[1], eps
        self.m = self.v = None
        self.t = 0

    def step(self, p, g):
        if self.m is None:
            self.m = torch.zeros_like(p)
            self.v = torch.zeros_like(p)
        self.t += 1
        p = p * (1 - self.lr * self.wd)
        self.m = self.m + (1 - self.b1) * (g - self.m)
        self.v = self.v + (1 - self.b2) * (g * g - self.v)
        bias1 = 1 - self.b1 ** self.t
        bias2 = 1 - self.b2 ** self.t
        return p - (self.lr / bias1) * self.m / (torch.sqrt(self.v / bias2) + self.eps)


def polar_express(g):
    X = g / (torch.linalg.matrix_norm(g) * POLAR_NORM_FACTOR + 1e-6)
    rows, cols = X.shape
    for a, b, c in POLAR_EXPRESS:
        if rows > cols:
            A = X.T @ X
            Bm = b * A + c * (A @ A)
            X = a * X + X @ Bm
        else:
            A = X @ X.T
            Bm = b * A + c * (A @ A)
            X = a * X + Bm @ X
    return X


class Muon:
    def __init__(self, lr, momentum):
        self.lr, self.mu = lr, momentum
        self.buf = None

    def step(self, p, G):
        if self.buf is None:
            self.buf = torch.zeros_like(p)
        self.buf = self.buf + (1 - self.mu) * (G - self.buf)
        g = G + self.mu * (self.buf - G)
        X = polar_express(g)
        rows, cols = p.shape
        return p - self.lr * max(1.0, rows / cols) ** 0.5 * X


def make_optimizers(names, hp):
    opts = {}
    for n in names:
        if n == "transformer.wte.weight":
            opts[n] = AdamW(hp["lr_wte"], hp["weight_decay"])
        elif n == "lm_head.weight":
            opts[n] = AdamW(hp["lr_lm_head"], hp["weight_decay"])
        elif n.startswith("transformer.h."):
            opts[n] = Muon(hp["lr_muon"], MOMENTUM)
        else:
            raise ValueError(n)
    return opts


def loss_and_grads(params, idx, targets, weights, cfg):
    leaves = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    _, _, loss = forward(leaves, idx, targets, weights, cfg)
    names = list(leaves)
    grads = torch.autograd.grad(loss, [leaves[n] for n in names])
    return loss.detach(), {n: g.detach() for n, g in zip(names, grads)}


# ----------------------------------------------------------------------------
# checks


def finite_difference_check(params, grads, idx, targets, weights, cfg, per_param=5, h=1e-5):
    g = torch.Generator().manual_seed(7)
    worst_rel = 0.0
    print("finite-difference check (float64 central, h=%g):" % h)
    with torch.no_grad():
        for name, p in params.items():
            flat_g = grads[name].reshape(-1)
            picks = torch.randint(0, p.numel(), (per_param - 1,), generator=g).tolist()
            picks.append(int(flat_g.abs().argmax()))
            max_rel, max_abs = 0.0, 0.0
            for j in picks:
                pp = dict(params)
                plus = p.clone().reshape(-1)
                minus = p.clone().reshape(-1)
                plus[j] += h
                minus[j] -= h
                pp[name] = plus.view_as(p)
                lp = forward(pp, idx, targets, weights, cfg)[2].item()
                pp[name] = minus.view_as(p)
                lm = forward(pp, idx, targets, weights, cfg)[2].item()
                fd = (lp - lm) / (2 * h)
                ag = flat_g[j].item()
                err = abs(fd - ag)
                max_abs = max(max_abs, err)
                # floor the denominator: for near-zero entries the float64
                # round-off of the difference quotient (~1e-11) dominates
                max_rel = max(max_rel, err / max(abs(fd), abs(ag), 1e-4))
            worst_rel = max(worst_rel, max_rel)
            print(f"  {name:36s} max rel err {max_rel:.2e}  max abs err {max_abs:.2e}")
    print(f"  worst relative error: {worst_rel:.2e}")
    if worst_rel > 1e-5:
        raise SystemExit("\nfinite-difference check FAILED")
    return worst_rel


def optimizer_self_checks():
    """AdamW against torch.optim.AdamW; Polar Express output near-orthogonal."""
    g = torch.Generator().manual_seed(11)
    p0 = torch.randn(6, 5, generator=g, dtype=DT)
    grads = [torch.randn(6, 5, generator=g, dtype=DT) for _ in range(3)]
    mine = AdamW(0.2, WEIGHT_DECAY)
    p = p0.clone()
    ref = p0.clone().requires_grad_(True)
    topt = torch.optim.AdamW([ref], lr=0.2, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=WEIGHT_DECAY)
    for gr in grads:
        p = mine.step(p, gr)
        ref.grad = gr.clone()
        topt.step()
    adam_diff = (p - ref.detach()).abs().max().item()
    svals = []
    for shape in [(16, 64), (64, 64), (256, 64), (64, 256)]:
        X = polar_express(torch.randn(*shape, generator=g, dtype=DT))
        sv = torch.linalg.svdvals(X)
        svals.append(sv)
    sv = torch.cat(svals)
    # (a random square matrix has a few tiny singular values that 5 iterations
    # do not lift all the way; the bulk must sit near 1 and none far above it)
    print(f"AdamW vs torch.optim.AdamW max diff {adam_diff:.1e}; Polar Express singular values: "
          f"median {sv.median().item():.3f}, max {sv.max().item():.3f}, min {sv.min().item():.3f}")
    assert adam_diff < 1e-12
    assert 0.7 < sv.median().item() < 1.2 and sv.max().item() < 1.3


# ----------------------------------------------------------------------------
# deterministic safetensors writer


def safetensors_bytes(tensors, metadata):
    """Serialize {name: float32 tensor} with sorted header keys (deterministic)."""
    header = {"__metadata__": {k: metadata[k] for k in sorted(metadata)}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name].detach().to(torch.float32).cpu().numpy()).astype("<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)  # pad so the data starts 8-byte aligned
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(blobs)


def run_steps(params, idx, targets, weights, cfg, hp):
    opts = make_optimizers(params, hp)
    cur = dict(params)
    step_losses = []
    for _ in range(STEPS):
        l, gs = loss_and_grads(cur, idx, targets, weights, cfg)
        step_losses.append(l.item())
        cur = {n: opts[n].step(cur[n], gs[n]) for n in cur}
    step_losses.append(forward(cur, idx, targets, weights, cfg)[2].item())
    return step_losses, cur


def float32_drift(params, idx, targets, weights, cfg, ref):
    """Run the same pipeline in float32 and report how far it lands from the
    float64 reference: a guide for the tolerances of a float32 implementation."""
    p32 = {n: p.to(torch.float32) for n, p in params.items()}
    logits, _, loss = forward(p32, idx, targets, weights, cfg)
    _, grads = loss_and_grads(p32, idx, targets, weights, cfg)
    step_losses, after = run_steps(p32, idx, targets, weights, cfg, fixed_hyper(cfg))
    print("float32 run of the same code vs this float64 reference (max abs diff):")
    print(f"  logits {(logits.double() - ref['logits']).abs().max().item():.2e}  "
          f"loss {abs(loss.item() - ref['loss'].item()):.2e}  "
          f"step_losses {max(abs(a - b) for a, b in zip(step_losses, ref['step_losses'].tolist())):.2e}")
    gd = max(((grads[n].double() - ref['grad.' + n]).abs().max() / ref['grad.' + n].abs().max()).item()
             for n in params)
    ad = max((after[n].double() - ref['after.' + n]).abs().max().item() for n in params)
    rd = max(((after[n].double() - ref['after.' + n]).abs().max() / ref['after.' + n].abs().max()).item()
             for n in params)
    print(f"  grads (relative to each tensor's max |grad|) {gd:.2e}  after-step weights {ad:.2e} "
          f"(relative to each tensor's max |w| {rd:.2e})")
    # the default-hyper-parameter run (width-scaled AdamW rates): absolute and relative to each
    # tensor's max |w| (the Swift test's relErr)
    step_losses, after = run_steps(p32, idx, targets, weights, cfg, default_hyper(cfg))
    dl = max(abs(a - b) for a, b in zip(step_losses, ref['default.step_losses'].tolist()))
    ad = max((after[n].double() - ref['default.after.' + n]).abs().max().item() for n in params)
    rd = max(((after[n].double() - ref['default.after.' + n]).abs().max()
              / ref['default.after.' + n].abs().max()).item() for n in params)
    print(f"  default run (lr scale {width_scale(cfg):.6f}): step_losses {dl:.2e}  "
          f"after-step weights {ad:.2e} (relative to each tensor's max |w| {rd:.2e})")


def build(cfg, run_fd=True):
    params = init_params(cfg)
    idx, targets, weights = make_batch(cfg)

    logits, ce, loss = forward(params, idx, targets, weights, cfg)
    _, _, loss_sdpa = forward(params, idx, targets, weights, cfg, attn_fn=attention_sdpa)
    print(f"loss {loss.item():.12f}  (sdpa cross-check diff {abs(loss.item() - loss_sdpa.item()):.1e})")
    assert abs(loss.item() - loss_sdpa.item()) < 1e-12
    print(f"max |logit| soft-capped {logits.abs().max().item():.6f}  "
          f"(before the cap {(SOFTCAP * torch.atanh(logits.abs().max() / SOFTCAP)).item():.6f})")

    loss0, grads = loss_and_grads(params, idx, targets, weights, cfg)
    assert loss0.item() == loss.item()
    if run_fd:
        finite_difference_check(params, grads, idx, targets, weights, cfg)
        optimizer_self_checks()

    step_losses, cur = run_steps(params, idx, targets, weights, cfg, fixed_hyper(cfg))
    print("step_losses", [f"{v:.10f}" for v in step_losses])
    default_losses, default_cur = run_steps(params, idx, targets, weights, cfg, default_hyper(cfg))
    assert default_losses[0] == step_losses[0]
    print(f"default.step_losses (lr scale {width_scale(cfg):.6f})", [f"{v:.10f}" for v in default_losses])

    tensors = {}
    for n, p in params.items():
        tensors[n] = p
        tensors["grad." + n] = grads[n]
        tensors["after." + n] = cur[n]
        tensors["default.after." + n] = default_cur[n]
    tensors["inputs"] = idx.to(DT)
    tensors["targets"] = targets.to(DT)
    tensors["weights"] = weights
    tensors["logits"] = logits
    tensors["loss"] = loss.reshape(1)
    tensors["ce"] = ce
    tensors["step_losses"] = torch.tensor(step_losses, dtype=DT)
    tensors["default.step_losses"] = torch.tensor(default_losses, dtype=DT)

    if run_fd:
        float32_drift(params, idx, targets, weights, cfg, tensors)

    meta = {k: str(v) for k, v in cfg.items()}
    meta.update({
        "lr_wte": repr(LR_WTE), "lr_lm_head": repr(LR_LM_HEAD), "lr_muon": repr(LR_MUON),
        "momentum": repr(MOMENTUM), "weight_decay": repr(WEIGHT_DECAY), "rms_eps": repr(RMS_EPS),
        "softcap": repr(SOFTCAP), "rope_base": repr(ROPE_BASE), "steps": str(STEPS),
        "adam_beta1": repr(ADAM_BETAS[0]), "adam_beta2": repr(ADAM_BETAS[1]), "adam_eps": repr(ADAM_EPS),
        "param_seed": str(PARAM_SEED), "data_seed": str(DATA_SEED),
        "default_lr_scale": repr(width_scale(cfg)), "default_lr_wte": repr(DEFAULT_LR_WTE),
        "default_lr_lm_head": repr(DEFAULT_LR_LM_HEAD), "default_lr_muon": repr(DEFAULT_LR_MUON),
        "default_weight_decay": repr(DEFAULT_WEIGHT_DECAY),
        "torch_version": torch.__version__.split("+")[0],
        "generator": "tools/make_gpt_fixture.py",
    })
    return tensors, meta


def verify_file(path, tensors, meta):
    with safe_open(path, framework="pt") as f:
        assert dict(f.metadata()) == meta, "metadata mismatch on read-back"
        assert sorted(f.keys()) == sorted(tensors), "tensor names mismatch on read-back"
        for n in f.keys():
            got = f.get_tensor(n)
            want = tensors[n].to(torch.float32)
            assert got.dtype == torch.float32 and tuple(got.shape) == tuple(want.shape), n
            assert torch.equal(got, want), f"value mismatch on read-back: {n}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--skip-fd", action="store_true", help="skip the finite-difference gradient check")
    args = ap.parse_args()

    print(f"torch {torch.__version__}, numpy {np.__version__}")
    t0 = time.time()
    tensors, meta = build(CFG, run_fd=not args.skip_fd)
    blob = safetensors_bytes(tensors, meta)
    # determinism: a second build in this process must give the same bytes
    with contextlib.redirect_stdout(io.StringIO()):
        again = safetensors_bytes(*build(CFG, run_fd=False))
    if again != blob:
        raise SystemExit("non-deterministic output: two builds differ")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, args.out)
    verify_file(args.out, tensors, meta)
    print(f"wrote {args.out}: {len(blob)} bytes, {len(tensors)} tensors, "
          f"sha256 {hashlib.sha256(blob).hexdigest()}  ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
