// The tokenizer: byte-level BPE with special tokens, encoding exactly as tiktoken does.
// Encode splits text with the pre-tokenizer; a chunk that is a token is that token, else inside it we repeatedly merge
// the adjacent pair of
// parts whose concatenated bytes form the lowest-ranked token (tiktoken's algorithm). Decode is exact
// bytes; UTF-8 repair (U+FFFD) happens only when turning bytes into a String for printing.
// Idea: nanochat/tokenizer.py (RustBPETokenizer) and tiktoken's byte-pair merge.

/// nanochat's special tokens, appended after the merges, in this order. Code names them by case
/// (`tok.id(.assistantEnd)`), so a typo does not compile; files hold the strings.
enum SpecialToken: String, CaseIterable {
    case bos = "<|bos|>", userStart = "<|user_start|>", userEnd = "<|user_end|>"
    case assistantStart = "<|assistant_start|>", assistantEnd = "<|assistant_end|>"
    case pythonStart = "<|python_start|>", pythonEnd = "<|python_end|>"
    case outputStart = "<|output_start|>", outputEnd = "<|output_end|>"
}

let specialTokenNames = SpecialToken.allCases.map(\.rawValue)

final class Tokenizer {
    /// Bytes of every mergeable token, indexed by rank (= id). Ranks 0-255 are the single bytes.
    let vocab: [[UInt8]]
    /// Rank of the token made by joining parts a and b, for every token of 2+ bytes and every way to
    /// split it into two tokens: tiktoken's "rank of the concatenated bytes" as an integer lookup.
    private let joinRank: [UInt64: UInt32]
    /// Rank of a whole chunk that is itself a token: tiktoken returns it without merging.
    private let wholeRank: [ChunkKey: UInt32]
    private let vocabIndex: [[UInt8]: UInt32]
    /// Special token name -> id (ids vocab.count ..< vocab.count + specials).
    let specialIds: [String: Int]
    let specialNames: [String]
    /// Encodings of chunks seen before (chunks of <= 15 bytes), stored flat in `cacheIds`.
    private var cache: [ChunkKey: (start: Int32, count: Int32)] = [:]
    private var cacheIds: [UInt32] = []

    var vocabSize: Int { vocab.count + specialNames.count }
    var bosId: Int { id(.bos) }

    init(vocab: [[UInt8]], specials: [String] = specialTokenNames) {
        precondition(vocab.count >= 256, "the vocab starts with the 256 bytes")
        self.vocab = vocab
        var index: [[UInt8]: UInt32] = [:]
        for (r, bytes) in vocab.enumerated() { index[bytes] = UInt32(r) }
        vocabIndex = index
        var join: [UInt64: UInt32] = [:]
        for (r, bytes) in vocab.enumerated() where bytes.count >= 2 {
            for cut in 1..<bytes.count {
                if let a = index[Array(bytes[..<cut])], let b = index[Array(bytes[cut...])] {
                    join[pairKey(a, b)] = UInt32(r)
                }
            }
        }
        joinRank = join
        var whole: [ChunkKey: UInt32] = [:]
        for (r, bytes) in vocab.enumerated() where bytes.count >= 2 && bytes.count <= ChunkKey.maxLength {
            bytes.withUnsafeBufferPointer { whole[ChunkKey($0, 0, bytes.count)] = UInt32(r) }
        }
        wholeRank = whole
        specialNames = specials
        var ids: [String: Int] = [:]
        for (k, name) in specials.enumerated() { ids[name] = vocab.count + k }
        specialIds = ids
    }

    /// Builds the vocab from training merges: token 256+i is the concatenation of merge i's pair.
    convenience init(merges: [(UInt32, UInt32)]) {
        var vocab = (0..<256).map { [UInt8($0)] }
        for (a, b) in merges { vocab.append(vocab[Int(a)] + vocab[Int(b)]) }
        self.init(vocab: vocab)
    }

    // MARK: - Encode

    /// Token ids of `text`. Special-token strings in plain text are encoded as ordinary bytes unless
    /// `allowSpecial` is set, in which case each exact occurrence becomes its special id.
    func encode(_ text: String, allowSpecial: Bool = false) -> [Int] {
        var out: [UInt32] = []
        var utf8 = Array(text.utf8)
        if allowSpecial {
            for (piece, special) in splitOnSpecials(utf8) {
                if let s = special { out.append(UInt32(s)) } else { encodeOrdinary(piece, into: &out) }
            }
        } else {
            encodeOrdinary(utf8, into: &out)
        }
        utf8 = []
        return out.map { Int($0) }
    }

    /// Encodes raw bytes (any byte string, valid UTF-8 or not) without special tokens.
    func encodeOrdinary(_ bytes: [UInt8], into out: inout [UInt32]) {
        out.reserveCapacity(out.count + bytes.count / 3)
        bytes.withUnsafeBufferPointer { p in
            splitChunks(p) { s, e in encodeChunk(p, s, e, into: &out) }
        }
    }

    func encodeOrdinary(_ bytes: [UInt8]) -> [Int] {
        var out: [UInt32] = []
        encodeOrdinary(bytes, into: &out)
        return out.map { Int($0) }
    }

    @inline(__always)
    private func encodeChunk(_ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, into out: inout [UInt32]) {
        if e - s == 1 {
            out.append(UInt32(p[s]))
            return
        }
        if e - s <= ChunkKey.maxLength {
            let key = ChunkKey(p, s, e)
            if let hit = cache[key] {
                for k in Int(hit.start)..<Int(hit.start + hit.count) { out.append(cacheIds[k]) }
                return
            }
            let first = out.count
            if let r = wholeRank[key] { out.append(r) } else { bytePairMerge(p, s, e, into: &out) }
            if cache.count < 1 << 20 {
                cache[key] = (Int32(cacheIds.count), Int32(out.count - first))
                cacheIds.append(contentsOf: out[first...])
            }
            return
        }
        let chunk = Array(p[s..<e])
        if let r = vocabIndex[chunk] { out.append(r) } else { bytePairMerge(p, s, e, into: &out) }
    }

    /// tiktoken's merge loop on one chunk: while some adjacent pair joins into a token, join the pair
    /// with the lowest rank (leftmost on ties). Quadratic in the chunk length, like tiktoken's.
    private func bytePairMerge(_ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, into out: inout [UInt32]) {
        var parts = (s..<e).map { UInt32(p[$0]) }
        var ranks = [UInt32](repeating: .max, count: max(0, parts.count - 1))
        for k in 0..<ranks.count { ranks[k] = joinRank[pairKey(parts[k], parts[k + 1])] ?? .max }
        while parts.count > 1 {
            var best = UInt32.max, at = -1
            for k in 0..<ranks.count where ranks[k] < best {
                best = ranks[k]
                at = k
            }
            if at < 0 { break }
            parts[at] = best
            parts.remove(at: at + 1)
            ranks.remove(at: at)
            if at > 0 { ranks[at - 1] = joinRank[pairKey(parts[at - 1], parts[at])] ?? .max }
            if at < ranks.count { ranks[at] = joinRank[pairKey(parts[at], parts[at + 1])] ?? .max }
        }
        out.append(contentsOf: parts)
    }

    /// Splits bytes at exact occurrences of special-token strings.
    private func splitOnSpecials(_ bytes: [UInt8]) -> [([UInt8], Int?)] {
        let specials = specialNames.map { (Array($0.utf8), specialIds[$0]!) }
        var pieces: [([UInt8], Int?)] = []
        var i = 0, last = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "<"),
                let (s, id) = specials.first(where: {
                    bytes.count - i >= $0.0.count && Array(bytes[i..<(i + $0.0.count)]) == $0.0
                })
            {
                if last < i { pieces.append((Array(bytes[last..<i]), nil)) }
                pieces.append(([], id))
                i += s.count
                last = i
            } else {
                i += 1
            }
        }
        if last < bytes.count { pieces.append((Array(bytes[last...]), nil)) }
        return pieces
    }

    // MARK: - Decode

    /// The exact bytes of a token sequence. Special tokens decode to their names.
    func decodeBytes<S: Sequence>(_ ids: S) -> [UInt8] where S.Element == Int {
        var out: [UInt8] = []
        for id in ids { out.append(contentsOf: tokenBytes(id)) }
        return out
    }

    /// Text for printing: invalid UTF-8 becomes U+FFFD.
    func decode<S: Sequence>(_ ids: S) -> String where S.Element == Int {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }

    func tokenBytes(_ id: Int) -> [UInt8] {
        if id >= 0 && id < vocab.count { return vocab[id] }
        let s = id - vocab.count
        if s >= 0 && s < specialNames.count { return Array(specialNames[s].utf8) }
        return []
    }

    /// The id of a special token. Every tokenizer has all of them (its initialiser and loader see to it).
    func id(_ token: SpecialToken) -> Int {
        guard let id = specialIds[token.rawValue] else { preconditionFailure("the tokenizer lacks \(token.rawValue)") }
        return id
    }

    func isSpecial(_ id: Int) -> Bool { id >= vocab.count && id < vocabSize }
}
