// Learning-rate and momentum schedules, as nanochat's base_train: linear warmup, constant, then a linear
// warmdown to a final fraction of the peak; Muon's momentum warms from 0.85 to 0.95 over 300 steps.

struct LRSchedule {
    var totalSteps: Int
    var warmupSteps = 0
    var warmdownRatio: Double = 0.2
    var finalFraction: Double = 0

    /// Multiplier of the peak learning rate at `step` (0-based).
    func multiplier(_ step: Int) -> Float {
        let warmdown = Int((warmdownRatio * Double(totalSteps)).rounded())
        if step < warmupSteps { return Float(step + 1) / Float(warmupSteps) }
        if step <= totalSteps - warmdown { return 1 }
        // Past the last step (a budget not fixed yet) the rate stays at its final value, never below.
        let progress = max(0, Double(totalSteps - step) / Double(max(1, warmdown)))
        return Float(progress + (1 - progress) * finalFraction)
    }
}

/// Muon momentum at `step`: 0.85 → 0.95 linearly over the first 300 steps.
func muonMomentum(_ step: Int) -> Float {
    let frac = min(Float(step) / 300, 1)
    return (1 - frac) * 0.85 + frac * 0.95
}
