// Muon: SGD with Nesterov momentum whose update is orthogonalised before it is applied (Keller Jordan,
// https://kellerjordan.github.io/posts/muon/), as nanochat uses it for every matrix inside the blocks.
// Orthogonalising replaces the update G = U·S·Vᵀ by roughly U·Vᵀ: every direction moves by the same amount,
// so rare directions are not drowned by dominant ones. We use the Polar Express iteration
// (Amsel, Persson, Musco, Gower 2025, https://arxiv.org/abs/2505.16932), 5 steps, each through sgemm.

/// Polar Express coefficients (a, b, c) for 5 iterations, from nanochat/optim.py.
let polarExpressCoefficients: [(Float, Float, Float)] = [
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
]

/// Scratch for orthogonalising matrices of up to `maxCount` entries and `maxSide`² Gram matrices.
struct MuonScratch {
    let x, xn, a, b: UnsafeMutablePointer<Float>
    init(maxCount: Int, maxSide: Int) {
        x = .allocate(capacity: maxCount)
        xn = .allocate(capacity: maxCount)
        a = .allocate(capacity: maxSide * maxSide)
        b = .allocate(capacity: maxSide * maxSide)
    }
    func deallocate() {
        x.deallocate()
        xn.deallocate()
        a.deallocate()
        b.deallocate()
    }
}

/// One Muon step on a (rows × cols) matrix:
///   buf ← lerp(buf, G, 1-μ); g ← lerp(G, buf, μ)  (Nesterov);  X ← g / (‖g‖_F·1.01 + 1e-6);
///   5× Polar Express: A = X·Xᵀ (wide) or Xᵀ·X (tall); B = b·A + c·A²; X ← a·X + B·X (or X·B);
///   p ← p - lr·sqrt(max(1, rows/cols))·X.
func muonStep(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ buf: UnsafeMutablePointer<Float>,
    rows: Int, cols: Int, lr: Float, momentum mu: Float, _ s: MuonScratch
) {
    let count = rows * cols
    var x = s.x, xn = s.xn
    var norm2: Double = 0
    for i in 0..<count {
        buf[i] += (1 - mu) * (g[i] - buf[i])
        let gi = g[i] + mu * (buf[i] - g[i])
        x[i] = gi
        norm2 += Double(gi) * Double(gi)
    }
    let inv = Float(1 / (norm2.squareRoot() * 1.01 + 1e-6))
    for i in 0..<count { x[i] *= inv }
    let tall = rows > cols, k = tall ? cols : rows
    for (ca, cb, cc) in polarExpressCoefficients {
        if tall {
            sgemm(transA: true, transB: false, k, k, rows, x, lda: cols, x, ldb: cols, beta: 0, s.a, ldc: k)  // A = XᵀX
        } else {
            sgemm(transA: false, transB: true, k, k, cols, x, lda: cols, x, ldb: cols, beta: 0, s.a, ldc: k)  // A = XXᵀ
        }
        s.b.update(from: s.a, count: k * k)
        // B = b·A + c·A²
        sgemm(transA: false, transB: false, k, k, k, alpha: cc, s.a, lda: k, s.a, ldb: k, beta: cb, s.b, ldc: k)
        xn.update(from: x, count: count)
        if tall {
            // a·X + X·B
            sgemm(transA: false, transB: false, rows, cols, cols, x, lda: cols, s.b, ldb: cols, beta: ca, xn, ldc: cols)
        } else {
            // a·X + B·X
            sgemm(transA: false, transB: false, rows, cols, rows, s.b, lda: rows, x, ldb: cols, beta: ca, xn, ldc: cols)
        }
        swap(&x, &xn)
    }
    let scale = lr * max(1, Float(rows) / Float(cols)).squareRoot()
    for i in 0..<count { p[i] -= scale * x[i] }
}
