// The one place that calls BLAS: every matmul in nanochat goes through `sgemm` below.
// OpenBLAS on Linux (module CBLAS, found by pkg-config); on macOS, Accelerate can stand in here alone.

#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// C (M×N) = alpha · op(A) · op(B) + beta · C, all row-major. op(A) is M×K (A stored K×M when transA),
/// op(B) is K×N (B stored N×K when transB). lda/ldb/ldc are the stored row lengths.
@inline(__always)
func sgemm(
    transA: Bool, transB: Bool, _ M: Int, _ N: Int, _ K: Int,
    alpha: Float = 1, _ A: UnsafePointer<Float>, lda: Int,
    _ B: UnsafePointer<Float>, ldb: Int,
    beta: Float, _ C: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

/// y (M) = alpha · A (M×N, row-major, lda) · x + beta · y: one matrix-vector product. Decoding one token
/// per row is this shape; sgemm with one row would first pack all of A, about five times slower here.
@inline(__always)
func sgemv(
    _ M: Int, _ N: Int, alpha: Float = 1, _ A: UnsafePointer<Float>, lda: Int, _ x: UnsafePointer<Float>,
    beta: Float, _ y: UnsafeMutablePointer<Float>
) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(M), Int32(N), alpha, A, Int32(lda), x, 1, beta, y, 1)
}

/// How many threads BLAS uses (OpenBLAS); our own parallel loops never wrap a BLAS call.
func blasThreads() -> Int {
    #if canImport(Accelerate)
    return 0
    #else
    return Int(openblas_get_num_threads())
    #endif
}

/// Naive reference matmul for tests: out (N, OC) = inp (N, IC) · W^T, W (OC, IC).
func matmulNaive(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ W: UnsafePointer<Float>,
    _ N: Int, _ IC: Int, _ OC: Int
) {
    for n in 0..<N {
        for o in 0..<OC {
            var s: Float = 0
            for i in 0..<IC { s += inp[n * IC + i] * W[o * IC + i] }
            out[n * OC + o] = s
        }
    }
}

/// Runs body with BLAS limited to `n` threads, for code that runs many small sgemms from our own
/// parallel loop (attention heads): each call then stays on its caller's core and nothing spins.
@inline(__always)
func withBLASThreads<R>(_ n: Int, _ body: () -> R) -> R {
    #if canImport(Accelerate)
    return body()
    #else
    let old = openblas_get_num_threads()
    openblas_set_num_threads(Int32(n))
    defer { openblas_set_num_threads(old) }
    return body()
    #endif
}
