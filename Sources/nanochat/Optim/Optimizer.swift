// The combined optimizer, as nanochat's setup_optimizers: Muon for every matrix inside the blocks, AdamW
// for the embedding (wte) and the head (lm_head), each with its own learning rate; the AdamW rates are
// scaled by (C/768)^-0.5 so that they transfer across widths. State lives in flat slabs beside the params.

struct OptimizerHyper: Codable, Equatable {
    /// The post-training stages' settings: every learning rate times `scale`, no weight decay.
    static func scaled(by scale: Float) -> OptimizerHyper {
        let h = OptimizerHyper()
        return OptimizerHyper(embeddingLR: h.embeddingLR * scale, unembeddingLR: h.unembeddingLR * scale,
                              matrixLR: h.matrixLR * scale, weightDecay: 0)
    }

    var embeddingLR: Float = 0.2     // AdamW, wte
    var unembeddingLR: Float = 0.004 // AdamW, lm_head
    var matrixLR: Float = 0.02       // Muon, block matrices
    var weightDecay: Float = 0       // AdamW's decoupled weight decay
    var scaleByWidth = true          // multiply the AdamW rates by (C/768)^-0.5
}

final class Optimizer {
    let model: GPT
    var hyper: OptimizerHyper
    /// AdamW moments (used on wte and lm_head) and Muon momentum (block matrices), indexed like params.
    let expAvg, expAvgSq, momentumBuffer: UnsafeMutablePointer<Float>
    var step = 0
    private let scratch: MuonScratch

    init(model: GPT, hyper: OptimizerHyper = OptimizerHyper()) {
        self.model = model; self.hyper = hyper
        let n = model.numParams
        expAvg = .allocate(capacity: n); expAvgSq = .allocate(capacity: n); momentumBuffer = .allocate(capacity: n)
        expAvg.initialize(repeating: 0, count: n); expAvgSq.initialize(repeating: 0, count: n)
        momentumBuffer.initialize(repeating: 0, count: n)
        let blocks = model.tensors.filter(\.isBlockMatrix)
        scratch = MuonScratch(maxCount: blocks.map(\.count).max() ?? 1,
                              maxSide: blocks.map { min($0.rows, $0.cols) }.max() ?? 1)
    }

    deinit { expAvg.deallocate(); expAvgSq.deallocate(); momentumBuffer.deallocate(); scratch.deallocate() }

    var widthScale: Float { hyper.scaleByWidth ? (Float(model.config.nEmbd) / 768).squareRoot().reciprocal : 1 }

    /// One update of every parameter from model.grads. lrMultiplier comes from the schedule.
    func update(lrMultiplier: Float, momentum: Float) {
        step += 1
        let adam = AdamWHyper(weightDecay: hyper.weightDecay)
        for t in model.tensors {
            let p = model.params + t.offset, g = model.grads + t.offset
            if t.isBlockMatrix {
                muonStep(p, g, momentumBuffer + t.offset, rows: t.rows, cols: t.cols,
                         lr: hyper.matrixLR * lrMultiplier, momentum: momentum, scratch)
            } else {
                let base = t.name == "lm_head.weight" ? hyper.unembeddingLR : hyper.embeddingLR
                adamwStep(p, g, expAvg + t.offset, expAvgSq + t.offset, t.count,
                          lr: base * widthScale * lrMultiplier, step: step, adam)
            }
        }
    }
}

extension Float {
    var reciprocal: Float { 1 / self }
}
