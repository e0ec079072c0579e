// A hashable key for a short byte string (a pre-tokenizer chunk), packed into two words so that
// counting chunks and caching their encodings allocates nothing. Chunks of 16+ bytes use [UInt8] keys.

struct ChunkKey: Hashable {
    var lo: UInt64
    var hi: UInt64  // bytes 8..<15, and the length in the top byte

    /// Maximum length a packed key holds.
    static let maxLength = 15

    @inline(__always)
    init(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        let len = end - start
        var lo: UInt64 = 0, hi: UInt64 = 0
        var k = 0
        while k < min(len, 8) {
            lo |= UInt64(p[start + k]) << (8 * UInt64(k))
            k += 1
        }
        while k < len {
            hi |= UInt64(p[start + k]) << (8 * UInt64(k - 8))
            k += 1
        }
        self.lo = lo
        self.hi = hi | (UInt64(len) << 56)
    }

    var count: Int { Int(hi >> 56) }

    /// The bytes back.
    var bytes: [UInt8] {
        (0..<count).map { k in
            k < 8
                ? UInt8(truncatingIfNeeded: lo >> (8 * UInt64(k)))
                : UInt8(truncatingIfNeeded: hi >> (8 * UInt64(k - 8)))
        }
    }
}
