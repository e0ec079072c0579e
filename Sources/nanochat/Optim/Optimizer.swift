// The combined optimizer, as nanochat's setup_optimizers: Muon for every matrix inside the blocks, AdamW
// for the embedding (wte) and the head (lm_head), each with its own learning rate; the AdamW rates are
// scaled by (C/768)^-0.5 so that they transfer across widths. State lives in flat slabs beside the params.

import ArgumentParser

struct OptimizerHyper: Codable, Equatable {
    /// The post-training stages' settings: every learning rate times `scale`, no weight decay.
    static func scaled(by scale: Float) -> OptimizerHyper {
        let h = OptimizerHyper()
        return OptimizerHyper(
            embeddingLR: h.embeddingLR * scale, unembeddingLR: h.unembeddingLR * scale,
            matrixLR: h.matrixLR * scale, adapterLR: h.adapterLR * scale, weightDecay: 0)
    }

    var embeddingLR: Float = 0.2  // AdamW, wte
    var unembeddingLR: Float = 0.004  // AdamW, lm_head
    var matrixLR: Float = 0.02  // Muon, block matrices
    var adapterLR: Float = 0.002  // AdamW, LoRA factors (Model/LoRA.swift)
    var weightDecay: Float = 0  // AdamW's decoupled weight decay
    var scaleByWidth = true  // multiply the AdamW rates by (C/768)^-0.5
    /// The block matrices' optimizer: Muon (nanochat), or AdamW at matrixLR (the ablation ladder's last
    /// rung, the optimizer of GPT-2 and nanoGPT; not scaled by width).
    var matrixOptimizer = OptimizerKind.muon
    /// --matrix-lr's default when the matrices take AdamW (Muon's 0.02 would blow AdamW up).
    static let adamwMatrixLR: Float = 0.003
}

/// Checks a learning rate (or weight decay, or scale) given on the command line: a finite number in
/// `range`. A NaN, an infinity or 1e38 would turn every weight into NaN in one step.
func validateRate(_ value: Float, _ flag: String, _ range: ClosedRange<Float>) throws {
    guard value.isFinite, range.contains(value) else {
        throw ValidationError("\(flag) must be a number from \(range.lowerBound) to \(range.upperBound); got \(value)")
    }
}

/// Checks a count given on the command line (steps, rows, samples, examples): a whole number in `range`.
/// The upper ends are far above any sensible run; they stop 1e8 from reaching an allocation.
func validateCount(_ value: Int, _ flag: String, _ range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
        throw ValidationError("\(flag) must be from \(range.lowerBound) to \(range.upperBound); got \(value)")
    }
}

final class Optimizer {
    let model: GPT
    var hyper: OptimizerHyper
    /// The tensors this optimizer updates: the model's trainable ones when it was made (parameter groups:
    /// each tensor's `optimizer` says Muon or AdamW). Frozen tensors get no state and no update.
    let trained: [ParamTensor]
    /// Where each trained tensor's state starts, by parameter offset: in expAvg/expAvgSq for an AdamW
    /// tensor, in momentumBuffer for a Muon one.
    let stateOffset: [Int: Int]
    /// AdamW moments (wte, the heads, LoRA factors) and Muon momentum (block matrices), for the trained
    /// tensors only: two floats per AdamW parameter, one per Muon parameter.
    let expAvg, expAvgSq, momentumBuffer: UnsafeMutablePointer<Float>
    /// Trained parameters in all, and of each kind.
    let stateCount: Int, adamCount: Int, muonCount: Int
    /// The optimizer state's size in bytes.
    var stateBytes: Int { 4 * (2 * adamCount + muonCount) }
    var step = 0
    private let scratch: MuonScratch
    /// What updates the tensors that Muon would (hyper.matrixOptimizer when this optimizer was made).
    let matrixKind: OptimizerKind

    /// The optimizer that updates `t`: its parameter group's, with the block matrices' set by matrixKind.
    func kind(of t: ParamTensor) -> OptimizerKind { t.optimizer == .muon ? matrixKind : .adamw }

    init(model: GPT, hyper: OptimizerHyper = OptimizerHyper()) {
        self.model = model
        self.hyper = hyper
        trained = model.tensors.filter(\.trainable)
        matrixKind = hyper.matrixOptimizer
        let kind = { (t: ParamTensor) in t.optimizer == .muon ? hyper.matrixOptimizer : .adamw }  // kind(of:)
        var offsets: [Int: Int] = [:], adam = 0, muon = 0
        for t in trained {
            switch kind(t) {
            case .adamw:
                offsets[t.offset] = adam
                adam += t.count
            case .muon:
                offsets[t.offset] = muon
                muon += t.count
            }
        }
        stateOffset = offsets
        (stateCount, adamCount, muonCount) = (adam + muon, adam, muon)
        expAvg = .allocate(capacity: max(1, adam))
        expAvgSq = .allocate(capacity: max(1, adam))
        momentumBuffer = .allocate(capacity: max(1, muon))
        expAvg.initialize(repeating: 0, count: max(1, adam))
        expAvgSq.initialize(repeating: 0, count: max(1, adam))
        momentumBuffer.initialize(repeating: 0, count: max(1, muon))
        let blocks = trained.filter { kind($0) == .muon }
        scratch = MuonScratch(
            maxCount: blocks.map(\.count).max() ?? 1,
            maxSide: blocks.map { min($0.rows, $0.cols) }.max() ?? 1)
    }

    deinit {
        expAvg.deallocate()
        expAvgSq.deallocate()
        momentumBuffer.deallocate()
        scratch.deallocate()
    }

    var widthScale: Float { hyper.scaleByWidth ? (Float(model.config.nEmbd) / 768).squareRoot().reciprocal : 1 }

    /// One update of every trained parameter from model.grads. lrMultiplier comes from the schedule.
    func update(lrMultiplier: Float, momentum: Float) {
        step += 1
        let adam = AdamWHyper(weightDecay: hyper.weightDecay)
        for t in trained {
            let p = model.params + t.offset, g = model.grads + t.offset, s = stateOffset[t.offset]!
            switch kind(of: t) {
            case .muon:
                muonStep(
                    p, g, momentumBuffer + s, rows: t.rows, cols: t.cols,
                    lr: hyper.matrixLR * lrMultiplier, momentum: momentum, scratch)
            case .adamw:
                // Heads (the LM head, a reward model's score head) take the unembedding rate; block matrices
                // (--matrix-optimizer adamw) take matrixLR as it is.
                let lr =
                    t.optimizer == .muon
                    ? hyper.matrixLR
                    : widthScale
                        * (t.isAdapter
                            ? hyper.adapterLR
                            : t.name == "transformer.wte.weight" ? hyper.embeddingLR : hyper.unembeddingLR)
                adamwStep(p, g, expAvg + s, expAvgSq + s, t.count, lr: lr * lrMultiplier, step: step, adam)
            }
        }
    }
}

extension Float {
    var reciprocal: Float { 1 / self }
}
