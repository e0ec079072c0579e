#!/usr/bin/env python3
"""Cross-check our float64 reference (tools/make_gpt_fixture.py, and through its fixture the Swift
model) against Karpathy's nanochat itself: its GPT (nanochat/gpt.py) and its MuonAdamW
(nanochat/optim.py), imported from a checkout you point at. Nothing of nanochat is copied here.

make_gpt_fixture.py was written by us in the same form as the Swift code, so assumptions shared by
the two (Polar Express coefficients and normalisation, Muon's scale, rotary-then-QK-norm, the
soft-cap, the rmsnorm eps, the width scale of the AdamW rates) are never tested by the fixture.
This script loads the fixture's initial weights into nanochat's GPT and compares:

  rotary       nanochat's tables before its bf16 cast (float32 math) against ours (float64)
  forward      logits, per-token cross-entropy, the fixture's weighted loss and its gradients, and
               the mean loss and gradients of an all-ones-weights batch, in two modes:
                 float64: nanochat's code in float64 with three stubs (see below) against our
                   reference recomputed in float64 with F.rms_norm's float64 eps;
                 float32: nanochat's code untouched (float32 params, its own rotary tables)
                   against our reference fed the same tables (float32 eps, as the fixture)
               and, for the float64 mode, also against the fixture's stored tensors
  width scale  the AdamW learning rates of nanochat's setup_optimizer divided by their base rates,
               against the fixture's default_lr_scale; the AdamW betas/eps/weight decay it sets
  Muon         nanochat's fused Muon kernel reduced to the orthogonalisation alone (momentum 0,
               lr 1, variance reduction neutral) on each block gradient of the fixture, against our
               polar_express; its MuonAdamW (lr 0.02, momentum 0.95, aspect-ratio scale) for 3
               steps against our Muon, with nanochat's NorMuon variance reduction neutral
               (beta2 = 1: a constant second-moment buffer makes its scale exactly 1) and on
               (nanochat's beta2); and nanochat's AdamW kernel against ours
  default run  nanochat's model + setup_optimizer(0.004, 0.2, 0.02, weight_decay 0) for the
               fixture's 3 steps (variance reduction neutral), against our reference recomputed the
               same way and against the fixture's default.* tensors

Stubs (nanochat's code is otherwise run as it is):
  - the @torch.compile kernels run eagerly: TORCH_COMPILE_DISABLE=1, and each compiled module-level
    function of nanochat/optim.py (muon.py) and gpt.py is replaced by the function it wraps.
  - float64 mode: the model's rotary buffers are replaced by our float64 tables (nanochat keeps
    them in bf16, or in its COMPUTE_DTYPE; its forward asserts that dtype, so the assert's dtype
    is pointed at float64 for the call).
  - in every float64 comparison (forward and optimizer) Tensor.float() leaves float64 tensors alone:
    nanochat casts the logits to float32 before the soft-cap, and its NorMuon statistics (and,
    in newer versions, its AdamW math) to float32.
  - where nanochat's Muon casts to bf16 unconditionally (before its COMPUTE_DTYPE), Tensor.bfloat16
    is the identity during optimizer steps.
  - the MuonAdamW 0-D hyper-parameter tensors (float32 in nanochat) are replaced by float64 ones.
Features our GPT does not have are turned off, not stubbed: window_pattern "L"; resid_lambdas 1,
x0_lambdas 0, value embeddings 0 (so their gates do nothing), smear and backout lambdas 0, all
frozen. Source-level differences that cannot be turned off (rotary base, soft-cap, a q/k scale
after the QK norm) are listed, and the forward checks are then reported but not enforced.

Needs torch, numpy, safetensors (installed like make_gpt_fixture.py does) and filelock (a torch
dependency, imported by nanochat/common.py). Exit 1 if an enforced check fails.

Usage: python3 tools/check_against_nanochat.py --nanochat PATH [--fixture PATH]
  PATH: a nanochat checkout (the folder holding nanochat/gpt.py), e.g.
  git --git-dir=MIRROR archive 83dccc2 | tar -x -C /tmp/nanochat
"""

import argparse
import contextlib
import hashlib
import importlib
import inspect
import os
import re
import subprocess
import sys

os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")  # before torch is imported

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)

import make_gpt_fixture as ref  # noqa: E402  (installs torch/numpy/safetensors if missing)
import torch  # noqa: E402
from safetensors import safe_open  # noqa: E402

F64 = torch.float64
EPS64 = torch.finfo(F64).eps  # F.rms_norm's default eps for float64 input (finfo(dtype).eps)
# Known features of newer nanochat GPTs and the value that makes each one do nothing.
NEUTRAL = {
    "resid_lambdas": 1.0, "x0_lambdas": 0.0, "smear_lambda": 0.0, "backout_lambda": 0.0,
    "smear_gate.weight": 0.0,
}
NEUTRAL_PREFIXES = {"value_embeds.": 0.0}
VE_GATE = re.compile(r"^transformer\.h\.\d+\.attn\.ve_gate\.weight$")  # stays trainable: its grad is 0


# ----------------------------------------------------------------------------
# small helpers


def rel(a, b):
    """max |a - b| / max |b| (the Swift tests' relErr)."""
    a, b = a.detach().double(), b.detach().double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


@contextlib.contextmanager
def patched(obj, name, value):
    had = name in vars(obj)
    old = vars(obj).get(name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if had:
            setattr(obj, name, old)
        else:
            delattr(obj, name)


class Report:
    def __init__(self):
        self.rows = []

    def add(self, what, value, tol=None, note=""):
        ok = None if tol is None else value <= tol
        self.rows.append((what, value, tol, ok))
        flag = "" if ok is None else ("  ok" if ok else "  FAIL")
        lim = "" if tol is None else f"  (limit {tol:.0e})"
        print(f"  {what:60s} {value:.2e}{lim}{flag}{('  ' + note) if note else ''}")

    def failed(self):
        return [r for r in self.rows if r[3] is False]


def file_id(path):
    if not os.path.exists(path):
        return "absent"
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:12]


# ----------------------------------------------------------------------------
# nanochat


def import_nanochat(path):
    if not os.path.isfile(os.path.join(path, "nanochat", "gpt.py")):
        raise SystemExit(f"{path}: no nanochat/gpt.py there; pass the root of a nanochat checkout")
    sys.path.insert(0, os.path.abspath(path))
    ngpt = importlib.import_module("nanochat.gpt")
    try:
        nopt = importlib.import_module("nanochat.optim")
    except ImportError:
        nopt = importlib.import_module("nanochat.muon")
    for mod in (ngpt, nopt):  # the @torch.compile kernels, eagerly (fullgraph=True refuses a disabled dynamo)
        for name, obj in list(vars(mod).items()):
            if callable(obj) and hasattr(obj, "_torchdynamo_orig_callable"):
                setattr(mod, name, obj._torchdynamo_orig_callable)
    return ngpt, nopt


def describe_checkout(path):
    try:
        out = subprocess.run(["git", "-C", path, "log", "-1", "--format=%H %cd %s", "--date=short"],
                             capture_output=True, text=True, timeout=30)
        head = out.stdout.strip() if out.returncode == 0 else "(no git metadata)"
    except Exception:
        head = "(no git metadata)"
    print(f"nanochat checkout {path}: {head}")
    for f in ("gpt.py", "optim.py", "muon.py"):
        p = os.path.join(path, "nanochat", f)
        if os.path.exists(p):
            print(f"  nanochat/{f} sha256 {file_id(p)}")


def architecture_differences(ngpt):
    """Differences from our GPT that live in nanochat's source and cannot be configured off."""
    diffs = []
    src = inspect.getsource(ngpt)
    base = inspect.signature(ngpt.GPT._precompute_rotary_embeddings).parameters["base"].default
    if float(base) != ref.ROPE_BASE:
        diffs.append(f"rotary base {base} (ours {ref.ROPE_BASE:g})")
    m = re.search(r"softcap\s*=\s*([0-9.]+)", inspect.getsource(ngpt.GPT.forward))
    if not m or float(m.group(1)) != ref.SOFTCAP:
        diffs.append(f"logit soft-cap {m.group(1) if m else '?'} (ours {ref.SOFTCAP:g})")
    m = re.search(r"\bq = q \* ([0-9.]+)", src)
    if m:
        diffs.append(f"q and k multiplied by {m.group(1)} after the QK norm (ours: no factor)")
    att = inspect.getsource(ngpt.CausalSelfAttention.forward)
    i_rot, i_norm = att.find("apply_rotary_emb("), att.find("norm(q)")
    if not (0 <= i_rot < i_norm):
        diffs.append("QK norm not after rotary")
    return diffs


def make_config(ngpt, cfg):
    fields = set(ngpt.GPTConfig.__dataclass_fields__)
    kw = dict(sequence_len=cfg["sequence_len"], vocab_size=cfg["vocab_size"], n_layer=cfg["n_layer"],
              n_head=cfg["n_head"], n_kv_head=cfg["n_kv_head"], n_embd=cfg["n_embd"])
    if "window_pattern" in fields:
        kw["window_pattern"] = "L"  # full causal attention in every layer
    return ngpt.GPTConfig(**kw)


def build_model(ngpt, cfg, fixture, dtype):
    """nanochat's GPT with the fixture's initial weights, extra features turned off, params in dtype."""
    model = ngpt.GPT(make_config(ngpt, cfg))
    model.init_weights()  # sets the rotary buffers (and nanochat's own init, overwritten next)
    names = list(ref.param_shapes(cfg))
    sd = {n: fixture[n] for n in names}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected:
        raise SystemExit(f"nanochat's GPT has no parameter named {unexpected}")
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in sd:
                continue
            if n in NEUTRAL:
                p.fill_(NEUTRAL[n])
                p.requires_grad_(False)
            elif any(n.startswith(pre) for pre in NEUTRAL_PREFIXES):
                p.zero_()
                p.requires_grad_(False)
            elif VE_GATE.match(n):
                p.zero_()  # irrelevant once the value embeddings are 0; its gradient is exactly 0
            else:
                raise SystemExit(f"nanochat's GPT has a parameter this script cannot turn off: {n}")
        for p in model.parameters():
            p.data = p.data.to(dtype)
    assert set(missing) == {n for n, _ in model.named_parameters() if n not in sd}
    return model


def forces_bf16(module):
    """Does nanochat's Muon cast to bf16 unconditionally (before its COMPUTE_DTYPE-aware cast)?"""
    return re.search(r"^\s*X = [gG]\.bfloat16\(\)\s*(#.*)?$", inspect.getsource(module), re.M) is not None


def optimizer_differences(nopt):
    """Steps of nanochat's Muon that ours does not have and that cannot be configured off."""
    src = inspect.getsource(nopt)
    diffs = []
    if re.search(r"row_norm\s*=", src):
        diffs.append("MuonEq: rows rescaled to the mean row norm before the orthogonalisation")
    if re.search(r"target_norm\s*=\s*min\(", src):
        diffs.append("Muon+: the orthogonalised update's Frobenius norm set to sqrt(min(rows, cols))")
    return diffs


def polar_norm_factor(module):
    m = re.search(r"norm\(dim=\(-2, -1\), keepdim=True\) \* ([0-9.]+) \+ 1e-6", inspect.getsource(module))
    return float(m.group(1)) if m else None


_tensor_float = torch.Tensor.float


def keep_float64():
    """Tensor.float() leaves float64 tensors alone (nanochat casts logits and its NorMuon statistics to float32)."""
    return patched(torch.Tensor, "float", lambda self, *a, **k: self if self.dtype == F64 else _tensor_float(self, *a, **k))


@contextlib.contextmanager
def optimizer_precision(nopt):
    """nanochat's optimizer math in float64: no float32 casts, and no bf16 cast where it forces one."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(keep_float64())
        if forces_bf16(nopt):
            stack.enter_context(patched(torch.Tensor, "bfloat16", lambda self, *a, **k: self))
        yield


@contextlib.contextmanager
def float64_forward(ngpt, model):
    """Run nanochat's forward in float64 (see the header: rotary tables, dtype assert, .float())."""
    hd = model.config.n_embd // model.config.n_head
    cos, sin = ref.rotary_cos_sin(model.rotary_seq_len, hd, F64)
    saved = model.cos, model.sin
    model.cos, model.sin = cos[None, :, None, :], sin[None, :, None, :]
    stack = contextlib.ExitStack()
    stack.enter_context(keep_float64())
    if hasattr(ngpt, "COMPUTE_DTYPE"):
        stack.enter_context(patched(ngpt, "COMPUTE_DTYPE", F64))
    else:
        # the forward asserts `self.cos.dtype == torch.bfloat16`; its only use of torch.bfloat16
        fwd = inspect.getsource(ngpt.GPT.forward)
        assert fwd.count("torch.bfloat16") == 1 and "self.cos.dtype == torch.bfloat16" in fwd
        stack.enter_context(patched(torch, "bfloat16", F64))
    try:
        with stack:
            yield
    finally:
        model.cos, model.sin = saved


def set_f64_hyper_tensors(opt):
    """MuonAdamW keeps its hyper-parameters in float32 0-D tensors; make them float64."""
    for k, v in list(vars(opt).items()):
        if k.endswith("_t") and torch.is_tensor(v) and v.dim() == 0:
            setattr(opt, k, torch.tensor(0.0, dtype=F64))


# ----------------------------------------------------------------------------
# checks


def check_rotary(ngpt, model, rep, enforce):
    hd = model.config.n_embd // model.config.n_head
    with patched(torch.Tensor, "bfloat16", lambda self, *a, **k: self):
        cos, sin = model._precompute_rotary_embeddings(model.rotary_seq_len, hd)
    rc, rs = ref.rotary_cos_sin(model.rotary_seq_len, hd, F64)
    T = model.config.sequence_len
    err = max((cos[0, :T, 0].double() - rc[:T]).abs().max().item(),
              (sin[0, :T, 0].double() - rs[:T]).abs().max().item())
    rep.add(f"rotary cos/sin before the {model.cos.dtype} cast, T={T} (max abs)", err, 1e-6 if enforce else None)
    shipped = max((model.cos[0, :T, 0].double() - rc[:T]).abs().max().item(),
                  (model.sin[0, :T, 0].double() - rs[:T]).abs().max().item())
    rep.add(f"rotary tables as nanochat uses them ({model.cos.dtype}) vs ours (max abs)", shipped,
            note="(nanochat's storage precision)")


def nano_ce(model, idx, targets):
    B, T = idx.shape
    return model(idx, targets, loss_reduction="none").view(B, T)


def weighted(ce, w):
    return (w * ce).sum() / (w != 0).sum()


def grads_of(model, loss, names):
    params = dict(model.named_parameters())
    gs = torch.autograd.grad(loss, [params[n] for n in names])
    return dict(zip(names, gs))


def worst(a, b, names):
    return max(rel(a[n], b[n]) for n in names)


def check_forward(ngpt, fx, cfg, batch, rep, enforce):
    idx, targets, w = batch
    names = list(ref.param_shapes(cfg))
    params64 = {n: fx[n].double() for n in names}
    ones = torch.ones_like(w)
    tol = (lambda t: t) if enforce else (lambda t: None)

    # float64: nanochat (stubbed as described) vs our reference with float64 eps
    model = build_model(ngpt, cfg, fx, F64)
    with float64_forward(ngpt, model):
        logits = model(idx)
        ce = nano_ce(model, idx, targets)
        loss_w = weighted(ce, w)
        g_w = grads_of(model, loss_w, names)
        loss_1 = model(idx, targets)
        g_1 = grads_of(model, loss_1, names)
    with patched(ref, "RMS_EPS", EPS64):
        r_logits, r_ce, r_loss_w = ref.forward(params64, idx, targets, w, cfg)
        _, r_g_w = ref.loss_and_grads(params64, idx, targets, w, cfg)
        r_loss_1, r_g_1 = ref.loss_and_grads(params64, idx, targets, ones, cfg)
    print("forward, float64 (nanochat vs our reference recomputed with eps = float64 eps):")
    rep.add("logits", rel(logits, r_logits), tol(1e-12))
    rep.add("per-token cross-entropy", rel(ce, r_ce), tol(1e-12))
    rep.add("loss, fixture weights (0, 0.5, -0.25 among them)", rel(loss_w, r_loss_w), tol(1e-12))
    rep.add("gradients, fixture weights (worst tensor)", worst(g_w, r_g_w, names), tol(1e-10))
    rep.add("loss, all-ones weights (nanochat's mean cross-entropy)", rel(loss_1, r_loss_1), tol(1e-12))
    rep.add("gradients, all-ones weights (worst tensor)", worst(g_1, r_g_1, names), tol(1e-10))
    print("forward, float64 nanochat vs the fixture's stored float32 tensors (float32 eps there):")
    rep.add("logits vs fixture logits", rel(logits, fx["logits"]), tol(1e-6))
    rep.add("per-token cross-entropy vs fixture ce", rel(ce, fx["ce"]), tol(1e-6))
    rep.add("loss vs fixture loss", rel(loss_w, fx["loss"]), tol(1e-6))
    rep.add("gradients vs fixture grad.* (worst tensor)",
            max(rel(g_w[n], fx["grad." + n]) for n in names), tol(1e-5))

    # float32: nanochat as shipped vs our float64 reference fed nanochat's own rotary tables
    model32 = build_model(ngpt, cfg, fx, torch.float32)
    tables = (model32.cos[0, :, 0].double(), model32.sin[0, :, 0].double())
    logits32 = model32(idx)
    ce32 = nano_ce(model32, idx, targets)
    loss32 = weighted(ce32, w)
    g32 = grads_of(model32, loss32, names)
    with patched(ref, "rotary_cos_sin", lambda T_, hd, dtype=F64: (tables[0][:T_].to(dtype), tables[1][:T_].to(dtype))):
        s_logits, _, s_loss = ref.forward(params64, idx, targets, w, cfg)
        _, s_g = ref.loss_and_grads(params64, idx, targets, w, cfg)
    print(f"forward, float32 as shipped (its {model32.cos.dtype} rotary tables; eps = float32 eps, as ours):")
    rep.add("logits vs our reference with the same tables", rel(logits32, s_logits), tol(1e-5))
    rep.add("loss vs our reference with the same tables", rel(loss32, s_loss), tol(1e-5))
    rep.add("gradients vs our reference with the same tables (worst)", worst(g32, s_g, names), tol(1e-4))
    rep.add("logits vs the fixture (its float64 tables)", rel(logits32, fx["logits"]),
            note="(includes the rotary tables' precision)")
    rep.add("gradients vs the fixture (worst)", max(rel(g32[n], fx["grad." + n]) for n in names))


def nano_orthogonalize(nopt, G):
    """nanochat's Muon kernel reduced to its orthogonalisation: momentum 0 (g = G), lr 1, weight decay 0,
    variance reduction neutral (beta2 = 1 keeps the zero second-moment buffer, a constant, so its
    scale is 1), params 0: the params come back as -X."""
    r, c = G.shape
    if hasattr(nopt, "muon_step_fused"):
        want = ["stacked_grads", "stacked_params", "momentum_buffer", "second_momentum_buffer", "momentum_t",
                "lr_t", "wd_t", "beta2_t", "ns_steps", "red_dim"]
        got = list(inspect.signature(nopt.muon_step_fused).parameters)
        if got != want:
            raise SystemExit(f"muon_step_fused has parameters {got}; this script knows {want}")
        t = lambda v: torch.tensor(v, dtype=F64)  # noqa: E731
        p = torch.zeros(1, r, c, dtype=F64)
        second = torch.zeros((1, r, 1) if r >= c else (1, 1, c), dtype=F64)
        with optimizer_precision(nopt):
            nopt.muon_step_fused(G.clone()[None], p, torch.zeros(1, r, c, dtype=F64), second,
                                 t(0.0), t(1.0), t(0.0), t(1.0), 5, -1 if r >= c else -2)
        return -p[0]
    if hasattr(nopt, "zeropower_via_polar_express"):
        with optimizer_precision(nopt):
            return nopt.zeropower_via_polar_express(G, steps=5)
    raise SystemExit("no Polar Express in this nanochat (muon_step_fused / zeropower_via_polar_express)")


def nanochat_muon_beta2(ngpt):
    m = re.search(r"kind='muon'.*?beta2=([0-9.]+)", inspect.getsource(ngpt.GPT), re.S)
    return float(m.group(1)) if m else 0.95


def check_muon(ngpt, nopt, fx, cfg, rep):
    names = [n for n in ref.param_shapes(cfg) if n.startswith("transformer.h.")]
    factor = polar_norm_factor(nopt)
    diffs = optimizer_differences(nopt)
    if diffs:
        print("nanochat's Muon has steps ours does not (Muon figures reported, not enforced):")
        for d in diffs:
            print(f"  - {d}")
    lim = (lambda t: None) if diffs else (lambda t: t)
    print(f"Muon: nanochat's normalisation X / (|X|_F * {factor} + 1e-6) (ours {ref.POLAR_NORM_FACTOR}); "
          f"{'forced bf16, run as float64 (stub)' if forces_bf16(nopt) else 'no forced bf16 cast'}")
    ortho = {n: nano_orthogonalize(nopt, fx["grad." + n].double()) for n in names}
    rep.add("orthogonalisation of each block gradient vs ours (worst)",
            max(rel(ortho[n], ref.polar_express(fx["grad." + n].double())) for n in names),
            lim(1e-12) if factor == ref.POLAR_NORM_FACTOR else None)
    if factor is not None and factor != ref.POLAR_NORM_FACTOR:
        with patched(ref, "POLAR_NORM_FACTOR", factor):
            rep.add(f"  ... vs ours run with nanochat's factor {factor}",
                    max(rel(ortho[n], ref.polar_express(fx["grad." + n].double())) for n in names), lim(1e-12))

    if not hasattr(nopt, "MuonAdamW"):
        print("  (no MuonAdamW class in this nanochat: class-level checks skipped)")
        return

    def nano_steps(beta2, steps=ref.STEPS):
        ps = {n: torch.nn.Parameter(fx[n].double().clone()) for n in names}
        groups = []
        for shape in sorted({p.shape for p in ps.values()}):
            groups.append(dict(kind="muon", params=[ps[n] for n in names if ps[n].shape == shape],
                               lr=ref.DEFAULT_LR_MUON, momentum=ref.MOMENTUM, ns_steps=5, beta2=beta2,
                               weight_decay=0.0))
        opt = nopt.MuonAdamW(groups)
        set_f64_hyper_tensors(opt)
        for _ in range(steps):
            for n in names:
                ps[n].grad = fx["grad." + n].double().clone()
            with optimizer_precision(nopt):
                opt.step()
        return {n: ps[n].detach() - fx[n].double() for n in names}

    def our_steps(steps=ref.STEPS):
        out = {}
        for n in names:
            m, p = ref.Muon(ref.DEFAULT_LR_MUON, ref.MOMENTUM), fx[n].double()
            for _ in range(steps):
                p = m.step(p, fx["grad." + n].double())
            out[n] = p - fx[n].double()
        return out

    with patched(ref, "POLAR_NORM_FACTOR", factor or ref.POLAR_NORM_FACTOR):
        ours = our_steps()
    neutral = nano_steps(1.0)
    rep.add("MuonAdamW, 3 steps, variance reduction neutral: update vs ours (worst)",
            max(rel(neutral[n], ours[n]) for n in names), lim(1e-12),
            note="(lr 0.02 * max(1, rows/cols)^0.5, Nesterov 0.95)")
    beta2 = nanochat_muon_beta2(ngpt)
    normuon = nano_steps(beta2)
    rep.add(f"MuonAdamW, 3 steps, NorMuon as nanochat sets it (beta2 {beta2}): update vs ours",
            max(rel(normuon[n], ours[n]) for n in names), note="(ours has no variance reduction)")
    ratios = [(normuon[n].norm() / ours[n].norm()).item() for n in names]
    print(f"    Frobenius norm of the update, nanochat/ours, over the {len(names)} matrices: "
          f"{min(ratios):.6f} .. {max(ratios):.6f}")

    # AdamW kernel (wte, lm_head) with the default, width-scaled rates
    s = ref.width_scale(cfg)
    adam_names = {"transformer.wte.weight": ref.DEFAULT_LR_WTE * s, "lm_head.weight": ref.DEFAULT_LR_LM_HEAD * s}
    ps = {n: torch.nn.Parameter(fx[n].double().clone()) for n in adam_names}
    opt = nopt.MuonAdamW([dict(kind="adamw", params=[ps[n]], lr=lr, betas=ref.ADAM_BETAS, eps=ref.ADAM_EPS,
                               weight_decay=0.0) for n, lr in adam_names.items()])
    set_f64_hyper_tensors(opt)
    err = 0.0
    for _ in range(ref.STEPS):
        for n in adam_names:
            ps[n].grad = fx["grad." + n].double().clone()
        with optimizer_precision(nopt):
            opt.step()
    for n, lr in adam_names.items():
        a, p = ref.AdamW(lr, 0.0), fx[n].double()
        for _ in range(ref.STEPS):
            p = a.step(p, fx["grad." + n].double())
        err = max(err, rel(ps[n].detach() - fx[n].double(), p - fx[n].double()))
    rep.add("AdamW kernel, 3 steps at the default width-scaled rates: update vs ours", err, 1e-12)


def check_default_run(ngpt, nopt, fx, meta, cfg, batch, rep, enforce):
    """nanochat's model + setup_optimizer for the fixture's 3 default-hyper-parameter steps."""
    idx, targets, w = batch
    names = list(ref.param_shapes(cfg))
    model = build_model(ngpt, cfg, fx, F64)
    setup = getattr(model, "setup_optimizer", None)
    if setup is None:
        print("  (no setup_optimizer in this nanochat: default-run check skipped)")
        return
    kw = dict(unembedding_lr=ref.DEFAULT_LR_LM_HEAD, embedding_lr=ref.DEFAULT_LR_WTE,
              matrix_lr=ref.DEFAULT_LR_MUON, weight_decay=ref.DEFAULT_WEIGHT_DECAY)
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        opt = setup(**{k: v for k, v in kw.items() if k in inspect.signature(setup).parameters})
    group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
    g_head, g_wte = group_of[id(model.lm_head.weight)], group_of[id(model.transformer.wte.weight)]
    scale = float(meta["default_lr_scale"])
    print("width scale and AdamW settings of nanochat's setup_optimizer:")
    rep.add(f"lm_head lr / 0.004 vs default_lr_scale {scale:.6f}", abs(g_head["lr"] / ref.DEFAULT_LR_LM_HEAD / scale - 1), 1e-15)
    rep.add(f"wte lr / 0.2 vs default_lr_scale {scale:.6f}", abs(g_wte["lr"] / ref.DEFAULT_LR_WTE / scale - 1), 1e-15)
    ours = dict(betas=tuple(ref.ADAM_BETAS), eps=ref.ADAM_EPS, weight_decay=ref.DEFAULT_WEIGHT_DECAY)
    for label, g in (("lm_head", g_head), ("wte", g_wte)):
        theirs = dict(betas=tuple(g["betas"]), eps=g["eps"], weight_decay=g["weight_decay"])
        print(f"  AdamW {label}: nanochat {theirs}" + ("  = ours" if theirs == ours else f"  DIFFERS from ours {ours}"))
    muon_groups = [g for g in opt.param_groups if g["kind"] == "muon"]
    print(f"  Muon groups: lr {sorted({g['lr'] for g in muon_groups})}, momentum "
          f"{sorted({g['momentum'] for g in muon_groups})}, ns_steps {sorted({g['ns_steps'] for g in muon_groups})}, "
          f"beta2 {sorted({g['beta2'] for g in muon_groups})}, weight_decay {sorted({g['weight_decay'] for g in muon_groups})}")
    for g in muon_groups:
        g["beta2"] = 1.0  # NorMuon variance reduction neutral (ours has none)
    for g in opt.param_groups:  # the turned-off features stay as they are
        g["params"] = [p for p in g["params"] if p.requires_grad]
    opt.param_groups = [g for g in opt.param_groups if g["params"]]
    set_f64_hyper_tensors(opt)

    losses = []
    with float64_forward(ngpt, model):
        for _ in range(ref.STEPS):
            model.zero_grad(set_to_none=True)
            loss = weighted(nano_ce(model, idx, targets), w)
            losses.append(loss.item())
            loss.backward()
            with optimizer_precision(nopt):
                opt.step()
        with torch.no_grad():
            losses.append(weighted(nano_ce(model, idx, targets), w).item())
    after = {n: p.detach() for n, p in model.named_parameters() if n in names}
    factor = polar_norm_factor(nopt) or ref.POLAR_NORM_FACTOR
    params64 = {n: fx[n].double() for n in names}
    with patched(ref, "RMS_EPS", EPS64), patched(ref, "POLAR_NORM_FACTOR", factor):
        r_losses, r_after = ref.run_steps(params64, idx, targets, w, cfg, ref.default_hyper(cfg))
    enforce = enforce and not optimizer_differences(nopt)
    tol = (lambda t: t) if enforce else (lambda t: None)
    print(f"default run, 3 steps, float64 (variance reduction neutral; our reference with float64 eps"
          f"{', Polar factor ' + str(factor) if factor != ref.POLAR_NORM_FACTOR else ''}):")
    rep.add("step losses vs our reference (max rel)",
            max(abs(a - b) / abs(b) for a, b in zip(losses, r_losses)), tol(1e-10))
    rep.add("weights after 3 steps vs our reference (worst)", worst(after, r_after, names), tol(1e-10))
    rep.add("step losses vs fixture default.step_losses (max abs)",
            max(abs(a - b) for a, b in zip(losses, fx["default.step_losses"].tolist())),
            tol(1e-5) if factor == ref.POLAR_NORM_FACTOR else None)
    rep.add("weights after 3 steps vs fixture default.after.* (worst)",
            max(rel(after[n], fx["default.after." + n]) for n in names),
            tol(1e-5) if factor == ref.POLAR_NORM_FACTOR else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nanochat", required=True, help="root of a nanochat checkout (holds nanochat/gpt.py)")
    ap.add_argument("--fixture", default=ref.DEFAULT_OUT)
    args = ap.parse_args()

    print(f"torch {torch.__version__}")
    describe_checkout(args.nanochat)
    with safe_open(args.fixture, framework="pt") as f:
        meta = dict(f.metadata())
        fx = {n: f.get_tensor(n) for n in f.keys()}
    cfg = {k: int(meta[k]) for k in ("n_layer", "n_embd", "n_head", "n_kv_head", "head_dim", "vocab_size",
                                     "sequence_len", "batch")}
    print(f"fixture {os.path.relpath(args.fixture)}: {cfg}")
    if cfg["n_embd"] // cfg["n_head"] != cfg["head_dim"]:
        raise SystemExit("nanochat derives head_dim = n_embd / n_head; the fixture's head_dim differs")
    if "default_lr_scale" not in meta:
        raise SystemExit("the fixture has no default run; regenerate it with tools/make_gpt_fixture.py")
    batch = (fx["inputs"].long(), fx["targets"].long(), fx["weights"].double())

    ngpt, nopt = import_nanochat(args.nanochat)
    diffs = architecture_differences(ngpt)
    extras = sorted({n.split(".")[0] if not VE_GATE.match(n) else "ve_gate"
                     for n, _ in ngpt.GPT(make_config(ngpt, cfg)).named_parameters()
                     if n not in ref.param_shapes(cfg)})
    print("turned off in nanochat's GPT: " + (", ".join(extras) if extras else "nothing (same parameters)")
          + ("; window_pattern 'L'" if "window_pattern" in ngpt.GPTConfig.__dataclass_fields__ else ""))
    enforce = not diffs
    if diffs:
        print("nanochat's gpt.py differs from our GPT where it cannot be configured off:")
        for d in diffs:
            print(f"  - {d}")
        print("  (forward and default-run figures below are reported, not enforced)")

    rep = Report()
    model = build_model(ngpt, cfg, fx, F64)
    print("rotary:")
    check_rotary(ngpt, model, rep, enforce)
    check_forward(ngpt, fx, cfg, batch, rep, enforce)
    check_muon(ngpt, nopt, fx, cfg, rep)
    check_default_run(ngpt, nopt, fx, meta, cfg, batch, rep, enforce)

    bad = rep.failed()
    print(f"\n{len(rep.rows)} figures, {sum(r[3] is True for r in rep.rows)} checked against a limit, "
          f"{len(bad)} over it" + ("" if enforce else " (architecture differs: forward not enforced)"))
    if bad:
        for what, v, tol, _ in bad:
            print(f"  FAIL {what}: {v:.2e} > {tol:.0e}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
