// Streaming text that never breaks a multi-byte UTF-8 character: bytes are held back until they form
// complete characters, then released. Invalid bytes are released as U+FFFD once it is clear that no
// continuation can make them valid.

struct UTF8Stream {
    private var pending: [UInt8] = []

    /// Adds bytes; returns the text that is now complete.
    mutating func push(_ bytes: [UInt8]) -> String {
        pending += bytes
        // Find the longest prefix that does not end inside an incomplete (but so far valid) sequence.
        var cut = pending.count
        var k = pending.count - 1, back = 0
        while k >= 0 && back < 4 {
            let b = pending[k]
            if b & 0xC0 != 0x80 {  // a lead byte (or ASCII): does its sequence fit?
                let need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                if pending.count - k < need && b >= 0xC2 && b <= 0xF4 { cut = k }
                break
            }
            k -= 1
            back += 1
        }
        let out = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return out
    }

    /// Releases whatever is left (an incomplete tail becomes U+FFFD).
    mutating func flush() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }
}
