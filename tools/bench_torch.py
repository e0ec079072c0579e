#!/usr/bin/env python3
"""PyTorch baseline for `nanochat bench`: one training step of our GPT on CPU.

The same model and optimizers as tools/make_gpt_fixture.py (rmsnorm without
weights, rotary, QK-norm, relu^2 MLP, tanh logit soft-cap, cross-entropy; AdamW
on wte and lm_head, Muon with 5 Polar Express iterations on every block matrix),
here in float32, eager mode, sized like `nanochat bench` (C = 64*depth,
head_dim 64, n_head = n_kv_head = C/64) on random tokens. The optimizer math is
the fixture's, written with in-place ops (lerp_, addmm, addcdiv_) as a torch
user would. Attention is F.scaled_dot_product_attention(is_causal=True), as in
nanochat, or with --naive-attention an explicit masked softmax.

Timed per step, after one warm-up step: forward (incl. clearing the grads),
backward, optimizer. Prints the mean and the best of --steps steps, and
tokens/s and GFLOP/s with nanochat's estimate of 6*N + 12*L*C*T FLOPs per token
(N = matmul parameters, i.e. all but wte), in the format of `nanochat bench`.

Usage: python3 tools/bench_torch.py [--depth 4] [--seq-len 256] [--batch-size 16]
       [--vocab-size 4096] [--steps 5] [--threads 2] [--naive-attention]
"""

import argparse
import math
import re
import time

# ----------------------------------------------------------------------------
# dependencies (the helpers of tools/make_gpt_fixture.py)


from pipdeps import ensure_torch  # noqa: E402  (tools/pipdeps.py)


ensure_torch()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ----------------------------------------------------------------------------
# hyper-parameters (as in make_gpt_fixture.py)

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
PARAM_SEED = 1337
DATA_SEED = 1
DT = torch.float32

POLAR_EXPRESS = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]


def config_for(depth, vocab_size, seq_len):
    """nanochat's sizing: C = 64*depth, head_dim 64, n_head = n_kv_head = C/64."""
    C = 64 * depth
    return dict(n_layer=depth, n_embd=C, n_head=C // 64, n_kv_head=C // 64, head_dim=64,
                vocab_size=vocab_size, sequence_len=seq_len)


from gpt_names import param_shapes  # noqa: E402  (tools/gpt_names.py)


def init_params(cfg):
    """The fixture's random init (nothing zero), float32 leaves with requires_grad."""
    g = torch.Generator().manual_seed(PARAM_SEED)
    C = cfg["n_embd"]
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name == "transformer.wte.weight":
            w = torch.randn(shape, generator=g, dtype=DT)
        elif name == "lm_head.weight":
            w = torch.randn(shape, generator=g, dtype=DT) * (3.0 / C ** 0.5)
        else:
            bound = 1.0 / shape[1] ** 0.5
            w = (torch.rand(shape, generator=g, dtype=DT) * 2 - 1) * bound
        params[name] = w.contiguous().requires_grad_(True)
    return params


# ----------------------------------------------------------------------------
# model (float32)

if hasattr(F, "rms_norm"):
    def rmsnorm(x):
        return F.rms_norm(x, (x.shape[-1],), eps=RMS_EPS)
else:  # torch < 2.4
    def rmsnorm(x):
        return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + RMS_EPS)


def rotary_cos_sin(T, hd):
    j = torch.arange(hd // 2, dtype=torch.float64)
    inv_freq = 1.0 / (ROPE_BASE ** (2.0 * j / hd))
    t = torch.arange(T, dtype=torch.float64)
    ang = t[:, None] * inv_freq[None, :]  # (T, hd/2)
    return torch.cos(ang).to(DT)[None, :, None, :], torch.sin(ang).to(DT)[None, :, None, :]


def apply_rotary(x, cos, sin):
    # x: (B, T, H, hd); cos/sin: (1, T, 1, hd/2)
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    return torch.cat([x1 * cos + x2 * sin, x2 * cos - x1 * sin], dim=-1)


def attention_sdpa(q, k, v, nh, nkv, mask):
    # q: (B,T,nh,hd), k/v: (B,T,nkv,hd) -> (B,T,nh*hd)
    B, T, _, hd = q.shape
    if nkv != nh:
        k = k.repeat_interleave(nh // nkv, dim=2)
        v = v.repeat_interleave(nh // nkv, dim=2)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       is_causal=True)
    return y.transpose(1, 2).reshape(B, T, nh * hd)


def attention_naive(q, k, v, nh, nkv, mask):
    """Explicit masked softmax (the fixture's attention_core)."""
    B, T, _, hd = q.shape
    if nkv != nh:
        k = k.repeat_interleave(nh // nkv, dim=2)
        v = v.repeat_interleave(nh // nkv, dim=2)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B,nh,T,hd)
    att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
    att = att.masked_fill(mask, float("-inf"))
    att = torch.softmax(att, dim=-1)
    y = att @ v  # (B,nh,T,hd)
    return y.transpose(1, 2).reshape(B, T, nh * hd)


def forward(params, idx, targets, cfg, rope, mask, attn_fn):
    B, T = idx.shape
    nh, nkv, hd = cfg["n_head"], cfg["n_kv_head"], cfg["head_dim"]
    cos, sin = rope
    x = rmsnorm(F.embedding(idx, params["transformer.wte.weight"]))
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        h = rmsnorm(x)
        q = F.linear(h, params[p + "attn.c_q.weight"]).view(B, T, nh, hd)
        k = F.linear(h, params[p + "attn.c_k.weight"]).view(B, T, nkv, hd)
        v = F.linear(h, params[p + "attn.c_v.weight"]).view(B, T, nkv, hd)
        q = rmsnorm(apply_rotary(q, cos, sin))
        k = rmsnorm(apply_rotary(k, cos, sin))
        y = attn_fn(q, k, v, nh, nkv, mask)
        x = x + F.linear(y, params[p + "attn.c_proj.weight"])
        h = rmsnorm(x)
        h = torch.relu(F.linear(h, params[p + "mlp.c_fc.weight"])).square()
        x = x + F.linear(h, params[p + "mlp.c_proj.weight"])
    x = rmsnorm(x)
    logits = F.linear(x, params["lm_head.weight"])
    logits = SOFTCAP * torch.tanh(logits / SOFTCAP)
    # all per-token weights 1 (as in `nanochat bench`): the fixture's weighted mean is the plain mean
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


# ----------------------------------------------------------------------------
# optimizers (the fixture's math, in place, float32)


class AdamW:
    def __init__(self, p, lr, wd, betas=ADAM_BETAS, eps=ADAM_EPS):
        self.lr, self.wd, self.b1, self.b2, self.eps = lr, wd, betas[0], betas[1], eps
        self.m = torch.zeros_like(p)
        self.v = torch.zeros_like(p)
        self.t = 0

    @torch.no_grad()
    def step(self, p, g):
        self.t += 1
        p.mul_(1 - self.lr * self.wd)
        self.m.lerp_(g, 1 - self.b1)            # m += (1-b1)(g - m)
        self.v.lerp_(g * g, 1 - self.b2)        # v += (1-b2)(g^2 - v)
        bias1 = 1 - self.b1 ** self.t
        bias2 = 1 - self.b2 ** self.t
        denom = (self.v / bias2).sqrt_().add_(self.eps)
        p.addcdiv_(self.m, denom, value=-self.lr / bias1)


def polar_express(g):
    X = g / (torch.linalg.matrix_norm(g) * 1.01 + 1e-6)
    rows, cols = X.shape
    for a, b, c in POLAR_EXPRESS:
        if rows > cols:
            A = X.T @ X
            Bm = torch.addmm(A, A, A, beta=b, alpha=c)      # b*A + c*A@A
            X = torch.addmm(X, X, Bm, beta=a)               # a*X + X@Bm
        else:
            A = X @ X.T
            Bm = torch.addmm(A, A, A, beta=b, alpha=c)
            X = torch.addmm(X, Bm, X, beta=a)               # a*X + Bm@X
    return X


class Muon:
    def __init__(self, p, lr, momentum):
        self.lr, self.mu = lr, momentum
        self.buf = torch.zeros_like(p)
        rows, cols = p.shape
        self.scale = max(1.0, rows / cols) ** 0.5

    @torch.no_grad()
    def step(self, p, G):
        self.buf.lerp_(G, 1 - self.mu)          # buf += (1-mu)(G - buf)
        g = G.lerp(self.buf, self.mu)           # Nesterov: G + mu(buf - G)
        p.add_(polar_express(g), alpha=-self.lr * self.scale)


def make_optimizers(params):
    opts = {}
    for n, p in params.items():
        if n == "transformer.wte.weight":
            opts[n] = AdamW(p, LR_WTE, WEIGHT_DECAY)
        elif n == "lm_head.weight":
            opts[n] = AdamW(p, LR_LM_HEAD, WEIGHT_DECAY)
        elif n.startswith("transformer.h."):
            opts[n] = Muon(p, LR_MUON, MOMENTUM)
        else:
            raise ValueError(n)
    return opts


# ----------------------------------------------------------------------------
# bench


def build_info():
    """torch version plus the BLAS / oneDNN / SIMD level this build uses here."""
    cfg = torch.__config__.show()
    parts = []
    m = re.search(r"Math Kernel Library Version (\S+)", cfg)
    if m:
        parts.append(f"MKL {m.group(1).split('-')[0]}")
    else:
        m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
        parts.append(f"BLAS {m.group(1)}" if m else "BLAS ?")
    m = re.search(r"MKL-DNN (v[\d.]+)", cfg)
    if m and torch.backends.mkldnn.is_available():
        parts.append(f"oneDNN {m.group(1)}")
    try:
        parts.append(f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    except AttributeError:  # torch < 2.1
        m = re.search(r"CPU capability usage: (\S+)", cfg)
        parts.append(f"CPU capability {m.group(1) if m else '?'}")
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=4, help="model depth (C = 64*depth)")
    ap.add_argument("--seq-len", type=int, default=256, help="sequence length T")
    ap.add_argument("--batch-size", type=int, default=16, help="batch size B (rows per step)")
    ap.add_argument("--vocab-size", type=int, default=4096, help="vocabulary size")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--naive-attention", action="store_true",
                    help="explicit masked softmax instead of F.scaled_dot_product_attention")
    args = ap.parse_args()
    if min(args.depth, args.seq_len, args.batch_size, args.steps, args.threads) < 1 or args.vocab_size < 2:
        ap.error("--depth, --seq-len, --batch-size, --vocab-size, --steps and --threads must be positive")

    torch.set_num_threads(args.threads)
    cfg = config_for(args.depth, args.vocab_size, args.seq_len)
    B, T, V, C, L = args.batch_size, args.seq_len, args.vocab_size, cfg["n_embd"], cfg["n_layer"]
    N = B * T
    params = init_params(cfg)
    opts = make_optimizers(params)
    g = torch.Generator().manual_seed(DATA_SEED)
    idx = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    rope = rotary_cos_sin(T, cfg["head_dim"])
    mask = ~torch.ones(T, T, dtype=torch.bool).tril()  # True above the diagonal (masked out)
    attn_fn = attention_naive if args.naive_attention else attention_sdpa

    num_params = sum(p.numel() for p in params.values())
    matmul_params = num_params - params["transformer.wte.weight"].numel()
    flops_per_token = 6 * matmul_params + 12 * L * C * T
    flops = flops_per_token * N

    print(f"torch: n_layer {L}, n_embd {C}, n_head {cfg['n_head']}, n_kv_head {cfg['n_kv_head']}, "
          f"vocab {V}, seq {T}, batch {B} ({N} tokens/step), {num_params} params, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"attention {'naive' if args.naive_attention else 'sdpa'}, {build_info()}", flush=True)

    times = []  # (forward, backward, optimizer) per timed step
    losses = []
    for s in range(args.steps + 1):
        t0 = time.perf_counter()
        for p in params.values():
            p.grad = None
        loss = forward(params, idx, targets, cfg, rope, mask, attn_fn)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        for n, p in params.items():
            opts[n].step(p, p.grad)
        t3 = time.perf_counter()
        losses.append(loss.item())
        if s > 0:
            times.append((t1 - t0, t2 - t1, t3 - t2))
    if not all(math.isfinite(x) for x in losses):
        raise SystemExit(f"non-finite loss: {losses}")

    n = len(times)
    mean = [sum(t[i] for t in times) / n for i in range(3)]
    mean_step = sum(mean)
    best = min(times, key=sum)
    best_step = sum(best)
    print("torch: forward %.1f ms, backward %.1f ms, optimizer %.1f ms, step %.1f ms (mean of %d)"
          % (1000 * mean[0], 1000 * mean[1], 1000 * mean[2], 1000 * mean_step, n))
    print("torch: forward %.1f ms, backward %.1f ms, optimizer %.1f ms, step %.1f ms (best of %d)"
          % (1000 * best[0], 1000 * best[1], 1000 * best[2], 1000 * best_step, n))
    print("torch: %.0f tokens/s, %.1f GFLOP/s (%.2f GFLOP/step, nanochat's 6N+12LCT estimate)"
          % (N / mean_step, flops / mean_step / 1e9, flops / 1e9))
    print("torch: best step %.0f tokens/s, %.1f GFLOP/s; loss %.4f -> %.4f over %d steps (one random batch)"
          % (N / best_step, flops / best_step / 1e9, losses[0], losses[-1], len(losses)))


if __name__ == "__main__":
    main()
