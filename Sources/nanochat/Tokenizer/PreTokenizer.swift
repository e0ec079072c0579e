// The pre-tokenizer: splits text into chunks that BPE never merges across.
// A hand-written scanner with exactly the semantics of nanochat's split pattern (GPT-4's, with \p{N}{1,2}):
//   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+
// It works on raw bytes: an invalid UTF-8 byte is one "other" character (Python: decode with surrogateescape),
// so any byte string splits and the chunks always concatenate back to the input.
// Checked against Python's `regex` module on Tests/nanochatTests/fixtures/split.json (tools/make_split_fixture.py).

/// The split pattern, as written into tokenizer.json and handed to tiktoken.
let splitPattern =
    #"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"#

/// The classes the pattern distinguishes. `newline` is \r or \n (also whitespace); `space` is other White_Space.
enum CharClass: UInt8 {
    case letter, number, newline, space, other
    var isWhitespace: Bool { self == .newline || self == .space }
}

/// Class of every ASCII byte, built once.
private let asciiClass: [CharClass] = (0..<128).map { b -> CharClass in
    let s = Unicode.Scalar(UInt8(b))
    if b == 0x0A || b == 0x0D { return .newline }
    return classOf(s)
}

/// Class of a Unicode scalar: \p{L} is general category L*, \p{N} is N*, \s is the White_Space property.
func classOf(_ s: Unicode.Scalar) -> CharClass {
    if s == "\n" || s == "\r" { return .newline }
    let p = s.properties
    if p.isWhitespace { return .space }
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
    case .decimalNumber, .letterNumber, .otherNumber: return .number
    default: return .other
    }
}

/// Decodes one character at `i`: its class and its length in bytes. Invalid UTF-8 (overlong forms,
/// surrogates, values above U+10FFFF, truncated sequences, stray continuation bytes) is one byte of `.other`.
@inline(__always)
func scanChar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (CharClass, Int) {
    let b0 = p[i]
    if b0 < 0x80 { return (asciiClass[Int(b0)], 1) }
    let n = p.count
    @inline(__always) func cont(_ k: Int) -> UInt32? {
        guard k < n, p[k] & 0xC0 == 0x80 else { return nil }
        return UInt32(p[k] & 0x3F)
    }
    var value: UInt32 = 0, len = 0
    if b0 >= 0xC2 && b0 <= 0xDF, let c1 = cont(i + 1) {
        value = (UInt32(b0 & 0x1F) << 6) | c1
        len = 2
    } else if b0 >= 0xE0 && b0 <= 0xEF, let c1 = cont(i + 1), let c2 = cont(i + 2) {
        value = (UInt32(b0 & 0x0F) << 12) | (c1 << 6) | c2
        len = 3
        if value < 0x800 || (value >= 0xD800 && value <= 0xDFFF) { return (.other, 1) }
    } else if b0 >= 0xF0 && b0 <= 0xF4, let c1 = cont(i + 1), let c2 = cont(i + 2), let c3 = cont(i + 3) {
        value = (UInt32(b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3
        len = 4
        if value < 0x10000 || value > 0x10FFFF { return (.other, 1) }
    } else {
        return (.other, 1)
    }
    return (classOf(Unicode.Scalar(value)!), len)
}

/// Length of a contraction ('s 'd 'm 't 'll 've 're, any case; ſ counts as s, as in Python's case folding)
/// starting at the apostrophe at `i`, or 0.
@inline(__always)
private func contractionLength(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
    let n = p.count
    guard i + 1 < n else { return 0 }
    let c1 = p[i + 1] | 0x20  // ASCII lowercase (harmless for non-letters: checked below)
    if c1 == UInt8(ascii: "s") || c1 == UInt8(ascii: "d") || c1 == UInt8(ascii: "m") || c1 == UInt8(ascii: "t") {
        return 2
    }
    if p[i + 1] == 0xC5, i + 2 < n, p[i + 2] == 0xBF { return 3 }  // U+017F LATIN SMALL LETTER LONG S
    guard i + 2 < n else { return 0 }
    let c2 = p[i + 2] | 0x20
    if (c1 == UInt8(ascii: "l") && c2 == UInt8(ascii: "l")) || (c1 == UInt8(ascii: "v") && c2 == UInt8(ascii: "e"))
        || (c1 == UInt8(ascii: "r") && c2 == UInt8(ascii: "e"))
    {
        return 3
    }
    return 0
}

/// Calls `body(start, end)` for every chunk of `p`, in order; the chunks tile the input exactly.
func splitChunks(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
    let n = p.count
    var i = 0
    while i < n {
        let end = chunkEnd(p, i)
        body(i, end)
        i = end
    }
}

/// End of the chunk that starts at `i`: the pattern's alternatives tried in order.
@inline(__always)
func chunkEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
    let n = p.count
    // 1. '(?i:[sdmt]|ll|ve|re)
    if p[i] == UInt8(ascii: "'") {
        let k = contractionLength(p, i)
        if k > 0 { return i + k }
    }
    let (c0, l0) = scanChar(p, i)
    // 2. [^\r\n\p{L}\p{N}]?+\p{L}+
    var j = i
    if c0 == .letter {
        j = i + l0
    } else if c0 == .space || c0 == .other, i + l0 < n, scanChar(p, i + l0).0 == .letter {
        j = i + l0 + scanChar(p, i + l0).1
    }
    if j > i {
        while j < n {
            let (c, l) = scanChar(p, j)
            if c != .letter { break }
            j += l
        }
        return j
    }
    // 3. \p{N}{1,2}
    if c0 == .number {
        j = i + l0
        if j < n {
            let (c, l) = scanChar(p, j)
            if c == .number { j += l }
        }
        return j
    }
    // 4. ' ?[^\s\p{L}\p{N}]++[\r\n]*'
    var start4 = -1
    if c0 == .other { start4 = i } else if p[i] == 0x20, i + 1 < n, scanChar(p, i + 1).0 == .other { start4 = i + 1 }
    if start4 >= 0 {
        j = start4
        while j < n {
            let (c, l) = scanChar(p, j)
            if c != .other { break }
            j += l
        }
        while j < n, p[j] == 0x0A || p[j] == 0x0D { j += 1 }
        return j
    }
    // c0 is whitespace here. Find the whole whitespace run [i, runEnd), its last newline and its last character.
    var runEnd = i, lastNewlineEnd = -1, lastCharStart = i
    while runEnd < n {
        let (c, l) = scanChar(p, runEnd)
        if !c.isWhitespace { break }
        if c == .newline { lastNewlineEnd = runEnd + l }
        lastCharStart = runEnd
        runEnd += l
    }
    // 5. \s*[\r\n]
    if lastNewlineEnd > 0 { return lastNewlineEnd }
    // 6. \s+(?!\S)   (the whole run at the end of text, else all but its last character)
    if runEnd == n { return n }
    if lastCharStart > i { return lastCharStart }
    // 7. \s+
    return runEnd
}

/// Convenience for tests and tools: the chunks of a byte string.
func splitChunks(_ bytes: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    bytes.withUnsafeBufferPointer { p in splitChunks(p) { s, e in out.append(Array(p[s..<e])) } }
    return out
}
