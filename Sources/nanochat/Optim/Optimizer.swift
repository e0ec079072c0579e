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
    /// Where each trained tensor's state starts in the state slabs, by parameter offset. When every tensor
    /// trains, the state is laid out exactly like the parameters.
    let stateOffset: [Int: Int]
    /// AdamW moments (wte, lm_head) and Muon momentum (block matrices), for the trained tensors only.
    let expAvg, expAvgSq, momentumBuffer: UnsafeMutablePointer<Float>
    let stateCount: Int
    var step = 0
    private let scratch: MuonScratch

    init(model: GPT, hyper: OptimizerHyper = OptimizerHyper()) {
        self.model = model
        self.hyper = hyper
        trained = model.tensors.filter(\.trainable)
        var offsets: [Int: Int] = [:], n = 0
        for t in trained {
            offsets[t.offset] = n
            n += t.count
        }
        stateOffset = offsets
        stateCount = n
        expAvg = .allocate(capacity: max(1, n))
        expAvgSq = .allocate(capacity: max(1, n))
        momentumBuffer = .allocate(capacity: max(1, n))
        expAvg.initialize(repeating: 0, count: max(1, n))
        expAvgSq.initialize(repeating: 0, count: max(1, n))
        momentumBuffer.initialize(repeating: 0, count: max(1, n))
        let blocks = trained.filter { $0.optimizer == .muon }
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
            switch t.optimizer {
            case .muon:
                muonStep(
                    p, g, momentumBuffer + s, rows: t.rows, cols: t.cols,
                    lr: hyper.matrixLR * lrMultiplier, momentum: momentum, scratch)
            case .adamw:
                // Heads (the LM head, a reward model's score head) take the unembedding rate.
                let base =
                    t.isAdapter
                    ? hyper.adapterLR : t.name == "transformer.wte.weight" ? hyper.embeddingLR : hyper.unembeddingLR
                adamwStep(
                    p, g, expAvg + s, expAvgSq + s, t.count,
                    lr: base * widthScale * lrMultiplier, step: step, adam)
            }
        }
    }
}

extension Float {
    var reciprocal: Float { 1 / self }
}
