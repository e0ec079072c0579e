// Finite-difference gradient checks for every kernel pair on tiny shapes (B=2, T=3, C=4 and friends).

import XCTest
@testable import nanochat

final class KernelTests: XCTestCase {

    func testLinearMatchesNaiveAndGradients() {
        let N = 6, IC = 5, OC = 3
        let x = Buf(N * IC, seed: 1), W = Buf(OC * IC, seed: 2), out = Buf(N * OC), ref = Buf(N * OC),
            dout = Buf(N * OC, seed: 3)
        linearForward(out.p, x.p, W.p, N, IC, OC)
        matmulNaive(ref.p, x.p, W.p, N, IC, OC)
        for i in 0..<N * OC { XCTAssertEqual(out.p[i], ref.p[i], accuracy: 1e-5) }
        let dx = Buf(N * IC), dW = Buf(OC * IC)
        linearBackward(dx.p, dW.p, dout.p, x.p, W.p, N, IC, OC)
        let loss = { () -> Double in
            linearForward(out.p, x.p, W.p, N, IC, OC)
            return projected(out.p, dout.p, N * OC)
        }
        checkGradient("linear dx", x: x.p, count: x.count, analytic: dx.array, loss: loss)
        checkGradient("linear dW", x: W.p, count: W.count, analytic: dW.array, loss: loss)
        // Backward accumulates: a second call doubles the gradients.
        let before = dW.array
        linearBackward(dx.p, dW.p, dout.p, x.p, W.p, N, IC, OC)
        for i in 0..<dW.count { XCTAssertEqual(dW.p[i], 2 * before[i], accuracy: 1e-5) }
    }

    func testEmbedding() {
        let V = 5, C = 4, N = 6
        let wte = Buf(V * C, seed: 4), out = Buf(N * C), dout = Buf(N * C, seed: 5), dwte = Buf(V * C)
        let idx: [Int32] = [1, 3, 1, 0, 4, 1]  // repeats: the gradient must add up
        idx.withUnsafeBufferPointer { ip in
            embeddingForward(out.p, ip.baseAddress!, wte.p, N, C)
            embeddingBackward(dwte.p, dout.p, ip.baseAddress!, N, C)
            checkGradient("embedding dwte", x: wte.p, count: wte.count, analytic: dwte.array) {
                embeddingForward(out.p, ip.baseAddress!, wte.p, N, C)
                return projected(out.p, dout.p, N * C)
            }
        }
    }

    func testRMSNorm() {
        let R = 6, D = 4
        let x = Buf(R * D, seed: 6), out = Buf(R * D), rstd = Buf(R), dout = Buf(R * D, seed: 7), dx = Buf(R * D)
        rmsNormForward(out.p, rstd.p, x.p, R, D)
        for r in 0..<R {  // each row has mean square 1 (up to eps)
            var ms: Float = 0
            for i in 0..<D { ms += out.p[r * D + i] * out.p[r * D + i] }
            XCTAssertEqual(ms / Float(D), 1, accuracy: 1e-4)
        }
        rmsNormBackward(dx.p, dout.p, out.p, rstd.p, R, D)
        checkGradient("rmsnorm dx", x: x.p, count: x.count, analytic: dx.array) {
            rmsNormForward(out.p, rstd.p, x.p, R, D)
            return projected(out.p, dout.p, R * D)
        }
    }

    func testRotary() {
        let B = 2, T = 3, H = 2, hs = 4
        let n = B * T * H * hs
        let cosT = Buf(T * hs / 2), sinT = Buf(T * hs / 2)
        rotaryTables(cosT.p, sinT.p, T, hs)
        let x = Buf(n, seed: 8), y = Buf(n), dout = Buf(n, seed: 9)
        // Forward is a rotation: it keeps each pair's norm; position 0 is the identity.
        y.p.update(from: x.p, count: n)
        rotaryForward(y.p, cosT.p, sinT.p, B, T, H, hs)
        for i in 0..<(H * hs) { XCTAssertEqual(y.p[i], x.p[i], accuracy: 1e-6) }
        let dx = Buf(n)
        dx.p.update(from: dout.p, count: n)
        rotaryBackward(dx.p, cosT.p, sinT.p, B, T, H, hs)
        checkGradient("rotary dx", x: x.p, count: n, analytic: dx.array) {
            y.p.update(from: x.p, count: n)
            rotaryForward(y.p, cosT.p, sinT.p, B, T, H, hs)
            return projected(y.p, dout.p, n)
        }
    }

    func testReluSquaredAndResidual() {
        let n = 12
        let x = Buf(n, seed: 10), out = Buf(n), dout = Buf(n, seed: 11), dx = Buf(n)
        reluSquaredForward(out.p, x.p, n)
        reluSquaredBackward(dx.p, dout.p, x.p, n)
        checkGradient("relu² dx", x: x.p, count: n, analytic: dx.array) {
            reluSquaredForward(out.p, x.p, n)
            return projected(out.p, dout.p, n)
        }
        let a = Buf(n, seed: 12), b = Buf(n, seed: 13), da = Buf(n), db = Buf(n)
        residualForward(out.p, a.p, b.p, n)
        residualBackward(da.p, db.p, dout.p, n)
        let loss = { () -> Double in
            residualForward(out.p, a.p, b.p, n)
            return projected(out.p, dout.p, n)
        }
        checkGradient("residual da", x: a.p, count: n, analytic: da.array, loss: loss)
        checkGradient("residual db", x: b.p, count: n, analytic: db.array, loss: loss)
    }

    func testActivationsOfTheAblationLadder() {
        // Each nonlinearity against its formula in Double, then its backward against finite differences.
        let n = 40
        let x = Buf(n, seed: 14, scale: 3), out = Buf(n), dout = Buf(n, seed: 15), dx = Buf(n)
        let formulas: [(Activation, (Double) -> Double)] = [
            (.reluSquared, { max($0, 0) * max($0, 0) }),
            (.relu, { max($0, 0) }),
            (.gelu, { 0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }),
        ]
        for (kind, f) in formulas {
            activationForward(kind, out.p, x.p, n)
            for i in 0..<n {
                XCTAssertEqual(Double(out.p[i]), f(Double(x.p[i])), accuracy: 1e-5, "\(kind) at \(x.p[i])")
            }
            dx.zero()
            activationBackward(kind, dx.p, dout.p, x.p, n)
            checkGradient("\(kind) dx", x: x.p, count: n, analytic: dx.array) {
                activationForward(kind, out.p, x.p, n)
                return projected(out.p, dout.p, n)
            }
        }
    }

    func testAttentionWithGroupedKV() {
        let B = 2, T = 3, NH = 4, NKV = 2, hs = 4
        let C = NH * hs, KC = NKV * hs
        let q = Buf(B * T * C, seed: 14), k = Buf(B * T * KC, seed: 15), v = Buf(B * T * KC, seed: 16)
        let y = Buf(B * T * C), att = Buf(B * NH * T * T), dy = Buf(B * T * C, seed: 17)
        let dq = Buf(B * T * C), dk = Buf(B * T * KC), dv = Buf(B * T * KC), scratch = Buf(B * NH * T * T)
        attentionForward(y.p, att.p, q.p, k.p, v.p, B, T, NH, NKV, hs)
        // Causal: the first position attends only to itself, so y = v there.
        for h in 0..<NH { for i in 0..<hs { XCTAssertEqual(y.p[h * hs + i], v.p[(h / 2) * hs + i], accuracy: 1e-6) } }
        attentionBackward(dq.p, dk.p, dv.p, scratch.p, dy.p, att.p, q.p, k.p, v.p, B, T, NH, NKV, hs)
        let loss = { () -> Double in
            attentionForward(y.p, att.p, q.p, k.p, v.p, B, T, NH, NKV, hs)
            return projected(y.p, dy.p, B * T * C)
        }
        checkGradient("attention dq", x: q.p, count: q.count, analytic: dq.array, loss: loss)
        checkGradient("attention dk", x: k.p, count: k.count, analytic: dk.array, loss: loss)
        checkGradient("attention dv", x: v.p, count: v.count, analytic: dv.array, loss: loss)
    }

    /// T = 150 spans three causal row blocks (64, 64, 22): the blocked products must equal a plain masked
    /// softmax (written here in Double) and keep exact gradients across block edges.
    func testAttentionAcrossCausalBlocks() {
        let B = 1, T = 150, NH = 2, NKV = 1, hs = 8
        let C = NH * hs, KC = NKV * hs
        XCTAssertEqual(causalBlocks(T).map { $0.1 - $0.0 }, [64, 64, 22])
        let q = Buf(B * T * C, seed: 40), k = Buf(B * T * KC, seed: 41), v = Buf(B * T * KC, seed: 42)
        let y = Buf(B * T * C), att = Buf(B * NH * T * T), dy = Buf(B * T * C, seed: 43)
        let dq = Buf(B * T * C), dk = Buf(B * T * KC), dv = Buf(B * T * KC), scratch = Buf(B * NH * T * T)
        attentionForward(y.p, att.p, q.p, k.p, v.p, B, T, NH, NKV, hs)
        var worst = 0.0
        for h in 0..<NH {
            for t in 0..<T {
                let s = (0...t).map { t2 in
                    (0..<hs).reduce(0.0) { $0 + Double(q.p[t * C + h * hs + $1]) * Double(k.p[t2 * KC + $1]) }
                        / Double(hs).squareRoot()
                }
                let m = s.max()!, e = s.map { exp($0 - m) }, z = e.reduce(0, +)
                for i in 0..<hs {
                    let ref = (0...t).reduce(0.0) { $0 + e[$1] / z * Double(v.p[$1 * KC + i]) }
                    worst = max(worst, abs(ref - Double(y.p[t * C + h * hs + i])))
                }
            }
        }
        XCTAssertLessThan(worst, 1e-5, "blocked attention vs a plain masked softmax")
        attentionBackward(dq.p, dk.p, dv.p, scratch.p, dy.p, att.p, q.p, k.p, v.p, B, T, NH, NKV, hs)
        let loss = { () -> Double in
            attentionForward(y.p, att.p, q.p, k.p, v.p, B, T, NH, NKV, hs)
            return projected(y.p, dy.p, B * T * C)
        }
        checkGradient("attention dq", x: q.p, count: q.count, analytic: dq.array, stride: 7, loss: loss)
        checkGradient("attention dk", x: k.p, count: k.count, analytic: dk.array, stride: 3, loss: loss)
        checkGradient("attention dv", x: v.p, count: v.count, analytic: dv.array, stride: 3, loss: loss)
    }

    func testSoftcapCrossEntropyWithWeights() {
        // nanochat's cap and the ablation ladder's uncapped logits (cap 0); V = 19 runs the SIMD and the tail.
        for (cap, V) in [(Float(15), 7), (0, 7), (15, 19), (0, 19)] {
            checkCrossEntropy(cap: cap, V: V)
        }
    }

    private func checkCrossEntropy(cap: Float, V: Int) {
        let N = 5
        let raw = Buf(N * V, seed: 18, scale: 30)  // large logits: the cap matters
        let z = Buf(N * V), losses = Buf(N), lse = Buf(N)
        let targets: [Int32] = [0, 6, 3, 3, 1]
        let weights: [Float] = [1, 0, 0.5, -0.25, 1]  // 0 = ignored; RL advantages can be negative
        targets.withUnsafeBufferPointer { t in
            weights.withUnsafeBufferPointer { w in
                let loss = { () -> Double in
                    z.p.update(from: raw.p, count: N * V)
                    return Double(
                        softcapCrossEntropyForward(
                            losses.p, lse.p, z.p, t.baseAddress!, w.baseAddress!, N, V, cap: cap))
                }
                let l = loss()
                // By hand: mean over the 4 weighted rows of w·(logsumexp(cap(z)) - cap(z)[target]).
                var expected = 0.0
                for n in 0..<N where weights[n] != 0 {
                    let c = (0..<V).map { v -> Double in
                        let x = Double(raw.p[n * V + v])
                        return cap == 0 ? x : Double(cap) * tanh(x / Double(cap))
                    }
                    let m = c.max()!
                    expected += Double(weights[n]) * (m + log(c.map { exp($0 - m) }.reduce(0, +)) - c[Int(targets[n])])
                }
                XCTAssertEqual(l, expected / 4, accuracy: 1e-4, "cap \(cap), V \(V)")
                softcapCrossEntropyBackward(z.p, lse.p, t.baseAddress!, w.baseAddress!, N, V, cap: cap)
                let analytic = z.array
                for v in 0..<V { XCTAssertEqual(analytic[V + v], 0, "ignored row has no gradient") }
                checkGradient(
                    "softcap \(cap) + CE dlogits, V \(V)", x: raw.p, count: raw.count, analytic: analytic, h: 2e-2,
                    rtol: 2e-2, loss: loss)
            }
        }
    }
}
