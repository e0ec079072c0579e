"""The GPT's parameter names and shapes (nanochat's state_dict, nn.Linear (out, in) layout), shared by
make_gpt_fixture.py, bench_torch.py and check_safetensors.py so the three agree with the Swift model
(Sources/nanochat/Model/GPT.swift, parameterTable)."""


def param_shapes(cfg):
    C, V, hd = cfg["n_embd"], cfg["vocab_size"], cfg["head_dim"]
    nh, nkv = cfg["n_head"], cfg["n_kv_head"]
    shapes = {"transformer.wte.weight": (V, C)}
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        shapes[p + "attn.c_q.weight"] = (nh * hd, C)
        shapes[p + "attn.c_k.weight"] = (nkv * hd, C)
        shapes[p + "attn.c_v.weight"] = (nkv * hd, C)
        shapes[p + "attn.c_proj.weight"] = (C, nh * hd)
        shapes[p + "mlp.c_fc.weight"] = (4 * C, C)
        shapes[p + "mlp.c_proj.weight"] = (C, 4 * C)
    shapes["lm_head.weight"] = (V, C)
    return shapes
