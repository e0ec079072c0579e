// LoRA (Hu et al. 2021): freeze a linear layer's weight W (out × in) and train a low-rank update beside
// it, y = W x + (α/r)·B A x, with A (r × in) and B (out × r). B starts at zero, so the adapted model
// starts as exactly the base model; A starts as PEFT's default (kaiming-uniform: U(±1/sqrt(in))), so
// B's first gradient is not zero. The adapters are ordinary tensors at the end of the parameter table
// (`transformer.h.{i}.attn.c_q.lora_A.weight`, ...): the base tensors are frozen, the adapters trained
// with AdamW, and the term itself is the kernel pair `loraForward`/`loraBackward` (Model/Kernels.swift)
// run by the same forward and backward as the base model. Files: Train/Adapter.swift.

import Foundation

/// The linear layers of a block an adapter can attach to, by their `--lora-targets` names.
enum LoRATarget: String, CaseIterable {
    case q, k, v, attnProj = "attn_proj", fc, mlpProj = "mlp_proj"

    /// The module's path inside a block (state_dict names: `transformer.h.{i}.<module>.weight`).
    var module: String {
        switch self {
        case .q: return "attn.c_q"
        case .k: return "attn.c_k"
        case .v: return "attn.c_v"
        case .attnProj: return "attn.c_proj"
        case .fc: return "mlp.c_fc"
        case .mlpProj: return "mlp.c_proj"
        }
    }

    /// PEFT's `target_modules` entry: the shortest name suffix that picks exactly this module.
    var peftName: String {
        switch self {
        case .attnProj, .mlpProj: return module
        default: return String(module.split(separator: ".").last!)
        }
    }

    var index: Int { LoRATarget.allCases.firstIndex(of: self)! }

    /// (out, in) of the adapted weight.
    func shape(_ c: GPTConfig) -> (rows: Int, cols: Int) {
        switch self {
        case .q, .attnProj: return (c.nEmbd, c.nEmbd)
        case .k, .v: return (c.kvDim, c.nEmbd)
        case .fc: return (4 * c.nEmbd, c.nEmbd)
        case .mlpProj: return (c.nEmbd, 4 * c.nEmbd)
        }
    }

    /// "q,k,v" -> targets; an unknown name is an error that lists the known ones.
    static func parse(_ list: String) throws -> [LoRATarget] {
        var out: [LoRATarget] = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let t = LoRATarget(rawValue: name) else {
                throw UserError(
                    "unknown LoRA target \"\(name)\"; choose from \(allCases.map(\.rawValue).joined(separator: ","))")
            }
            if !out.contains(t) { out.append(t) }
        }
        guard !out.isEmpty else { throw UserError("--lora-targets names no layer; e.g. q,k,v,attn_proj,fc,mlp_proj") }
        return LoRATarget.allCases.filter(out.contains)  // canonical order
    }
}

/// An adapter's shape: rank r, scale α (the update is multiplied by α/r), the layers it adapts, and
/// whether the embedding and the LM head train in full beside it (PEFT's `modules_to_save`).
struct LoRASpec: Equatable, CustomStringConvertible {
    var rank: Int
    var alpha: Float
    var targets: [LoRATarget]
    var heads = false
    var scale: Float { alpha / Float(rank) }

    /// The base tensors that train in full with `heads` (saved in the adapter file).
    static let headTensors = ["transformer.wte.weight", "lm_head.weight"]
    /// Their PEFT `modules_to_save` names.
    static let headModules = ["wte", "lm_head"]

    /// Whether a LoRA stage trains this tensor (everything else is frozen).
    func trains(_ t: ParamTensor) -> Bool { t.isAdapter || (heads && LoRASpec.headTensors.contains(t.name)) }

    var description: String {
        "LoRA rank \(rank), alpha \(alpha) on \(targets.map(\.rawValue).joined(separator: ","))"
            + (heads ? " + wte, lm_head in full" : "")
    }

    /// The internal names of the two tensors of layer `l`'s `target` adapter.
    static func names(layer l: Int, _ t: LoRATarget) -> (a: String, b: String) {
        let p = "transformer.h.\(l).\(t.module)."
        return (p + "lora_A.weight", p + "lora_B.weight")
    }
}

extension ParamTensor {
    /// Whether this is a LoRA factor (trained with AdamW; everything else is frozen in a LoRA stage).
    var isAdapter: Bool { name.contains(".lora_") }
}

/// Offsets of one adapter's factors in the parameter slab.
struct AdapterWeights { let a: Int, b: Int }

extension GPT {
    /// Layer l's adapter on `t`, when the model has one.
    @inline(__always) func adapter(_ l: Int, _ t: LoRATarget) -> AdapterWeights? {
        adapters.isEmpty ? nil : adapters[l][t.index]
    }

    /// Adds the layer's adapter term to `out` (N, OC) for input `inp` (N, IC); saves A·x for backward.
    @inline(__always) func adapterForward(
        _ l: Int, _ t: LoRATarget, _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
        _ N: Int, _ IC: Int, _ OC: Int
    ) {
        guard let ad = adapter(l, t), let spec = config.lora else { return }
        timed(.matmul) {
            loraForward(
                out, layers[l].lora + t.index * N * spec.rank, inp, params + ad.a, params + ad.b, N, IC, OC,
                spec.rank, spec.scale)
        }
    }

    /// The adapter's part of the backward: adds into dinp (N, IC) and the factors' gradients.
    @inline(__always) func adapterBackward(
        _ l: Int, _ t: LoRATarget, _ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
        _ inp: UnsafePointer<Float>, _ N: Int, _ IC: Int, _ OC: Int
    ) {
        guard let ad = adapter(l, t), let spec = config.lora else { return }
        timed(.matmul) {
            loraBackward(
                dinp, grad(ad.a), grad(ad.b), loraScratch, dout, inp, layers[l].lora + t.index * N * spec.rank,
                params + ad.a, params + ad.b, N, IC, OC, spec.rank, spec.scale)
        }
    }

    /// A model without adapters whose weights are W + (α/r)·B·A: the same function as this one (up to
    /// rounding), at the base model's cost. `lora-merge` saves it; chat and chat-eval run it.
    func merged(maxBatch: Int? = nil) -> GPT {
        var c = config
        c.lora = nil
        let m = GPT(config: c, maxBatch: maxBatch ?? self.maxBatch)
        for t in m.tensors { (m.params + t.offset).update(from: params + t.offset, count: t.count) }
        guard let spec = config.lora else { return m }
        for l in 0..<config.nLayer {
            for t in spec.targets {
                guard let ad = adapter(l, t), let w = m.tensor("transformer.h.\(l).\(t.module).weight") else {
                    continue
                }
                // W (out, in) += scale · B (out, r) · A (r, in)
                sgemm(
                    transA: false, transB: false, w.rows, w.cols, spec.rank, alpha: spec.scale, params + ad.b,
                    lda: spec.rank, params + ad.a, ldb: w.cols, beta: 1, m.params + w.offset, ldc: w.cols)
            }
        }
        return m
    }
}
