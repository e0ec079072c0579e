// A finite-difference gradient checker for the kernel tests, as llm.c's: analytic gradients against
// central differences of a scalar loss accumulated in Double; prints the first mismatches, then asserts.

import XCTest
@testable import nanochat

/// A scratch Float buffer filled from a seeded generator.
final class Buf {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int, seed: UInt64 = 0, scale: Float = 1) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        var rng = RNG(seed: seed)
        for i in 0..<count { p[i] = seed == 0 ? 0 : scale * (Float(rng.next() >> 40) / 16_777_216 * 2 - 1) }
    }
    deinit { p.deallocate() }
    func zero() { p.update(repeating: 0, count: count) }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

/// Σ out·dout in Double: the scalar whose gradient with respect to out is dout.
func projected(_ out: UnsafePointer<Float>, _ dout: UnsafePointer<Float>, _ n: Int) -> Double {
    var s = 0.0
    for i in 0..<n { s += Double(out[i]) * Double(dout[i]) }
    return s
}

/// Checks analytic[i] against (loss(x+h) - loss(x-h)) / 2h for every (or every k-th) entry of x.
/// Passes when |a - n| <= atol + rtol·|n|, with atol relative to the largest gradient.
func checkGradient(
    _ name: String, x: UnsafeMutablePointer<Float>, count: Int, analytic: [Float],
    h: Float = 1e-3, rtol: Double = 1e-2, atolFraction: Double = 1e-3, stride: Int = 1,
    file: StaticString = #filePath, line: UInt = #line, loss: () -> Double
) {
    let maxA = analytic.map { abs(Double($0)) }.max() ?? 0
    let atol = max(atolFraction * maxA, 1e-6)
    var bad = 0, worst = 0.0
    var i = 0
    while i < count {
        let saved = x[i]
        x[i] = saved + h
        let lp = loss()
        x[i] = saved - h
        let lm = loss()
        x[i] = saved
        let numeric = (lp - lm) / (2 * Double(h))
        let a = Double(analytic[i])
        let err = abs(a - numeric)
        worst = max(worst, err / (atol + rtol * abs(numeric)))
        if err > atol + rtol * abs(numeric) {
            bad += 1
            if bad <= 5 { print("  \(name)[\(i)]: analytic \(a), numeric \(numeric)") }
        }
        i += stride
    }
    XCTAssertEqual(
        bad, 0, "\(name): \(bad) gradient entries off (worst error / tolerance = \(worst))", file: file, line: line)
}

/// checkGradient over every tensor of a model (a sample of each, `perTensor` entries), the analytic gradient
/// being what `model.grads` holds now; `skip` names tensors the loss does not depend on.
func checkModelGradient(
    _ model: GPT, skip: Set<String> = [], perTensor: Int = 24, file: StaticString = #filePath, line: UInt = #line,
    loss: () -> Double
) {
    for p in model.tensors where !skip.contains(p.name) {
        let analytic = Array(UnsafeBufferPointer(start: model.grads + p.offset, count: p.count))
        checkGradient(
            p.name, x: model.params + p.offset, count: p.count, analytic: analytic, h: 1e-2, rtol: 3e-2,
            atolFraction: 1e-2, stride: max(1, p.count / perTensor), file: file, line: line, loss: loss)
    }
}
