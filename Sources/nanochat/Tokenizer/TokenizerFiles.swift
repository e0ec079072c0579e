// Saving and loading a tokenizer folder: `tokenizer.tiktoken` in tiktoken's own format (base64 of each
// mergeable token's bytes, a space, its rank) and `tokenizer.json` (split pattern, special tokens with ids,
// vocab size). Python's tiktoken.Encoding loads the pair and encodes exactly as we do (tools/check_tiktoken.py).

import Foundation

struct TokenizerMeta: Codable {
    var pattern: String
    var special_tokens: [String: Int]
    var vocab_size: Int
}

extension Tokenizer {
    static let ranksFile = "tokenizer.tiktoken"
    static let metaFile = "tokenizer.json"

    /// The tiktoken ranks file's text.
    var tiktokenText: String {
        var s = ""
        s.reserveCapacity(vocab.count * 12)
        for (rank, bytes) in vocab.enumerated() { s += Data(bytes).base64EncodedString() + " \(rank)\n" }
        return s
    }

    /// A fingerprint of the vocab and special tokens; checkpoints record it to catch a tokenizer swap.
    var hash: String {
        var bytes = Array(tiktokenText.utf8)
        for name in specialNames { bytes += Array(name.utf8) + [0] }
        return String(fnv1a64(bytes), radix: 16)
    }

    func save(to dir: String) throws {
        try writeAtomically(Data(tiktokenText.utf8), to: dir + "/" + Tokenizer.ranksFile)
        let meta = TokenizerMeta(pattern: splitPattern, special_tokens: specialIds, vocab_size: vocabSize)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try enc.encode(meta), to: dir + "/" + Tokenizer.metaFile)
    }

    /// Loads a tokenizer folder, checking every line; errors name the file, the line and the fix.
    static func load(from dir: String) throws -> Tokenizer {
        let ranksPath = dir + "/" + ranksFile, metaPath = dir + "/" + metaFile
        let hint = "Train one with `nanochat tok-train` (or pass --tokenizer DIR)."
        guard FileManager.default.fileExists(atPath: ranksPath) else {
            throw UserError("no tokenizer in \(dir): \(ranksFile) not found. \(hint)")
        }
        let raw = try readFile(ranksPath, what: "tokenizer ranks file")
        guard let text = String(data: raw, encoding: .utf8) else {
            throw UserError("\(ranksPath) is not UTF-8 text: it is not a tiktoken ranks file. \(hint)")
        }
        var vocab: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        // "\r\n" is one Character in Swift: split on it too, so files with Windows line ends load.
        for (k, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated()
        {
            if line.isEmpty { continue }
            let fields = line.split(separator: " ")
            guard fields.count == 2, let rank = Int(fields[1]), let bytes = Data(base64Encoded: String(fields[0]))
            else {
                throw UserError(
                    "\(ranksPath) line \(k + 1): expected '<base64> <rank>', got '\(line.prefix(60))'. The file is "
                        + "corrupt; retrain it."
                )
            }
            guard rank == vocab.count else {
                throw UserError(
                    "\(ranksPath) line \(k + 1): rank \(rank) out of order (expected \(vocab.count)). The file is "
                        + "corrupt or truncated; retrain it."
                )
            }
            let b = [UInt8](bytes)
            if rank < 256 && b != [UInt8(rank)] {
                throw UserError(
                    "\(ranksPath) line \(k + 1): rank \(rank) must be the single byte \(rank). Not a byte-level BPE "
                        + "file."
                )
            }
            if b.isEmpty || !seen.insert(b).inserted {
                throw UserError(
                    "\(ranksPath) line \(k + 1): empty or duplicate token. The file is corrupt; retrain it.")
            }
            vocab.append(b)
        }
        guard vocab.count >= 256 else {
            throw UserError(
                "\(ranksPath) has \(vocab.count) tokens; a byte-level tokenizer has at least the 256 bytes. The "
                    + "file is truncated; retrain it."
            )
        }
        let metaData = try readFile(metaPath, what: "tokenizer metadata")
        let meta: TokenizerMeta
        do { meta = try JSONDecoder().decode(TokenizerMeta.self, from: metaData) } catch {
            throw UserError(
                "\(metaPath) is not valid tokenizer JSON (need pattern, special_tokens, vocab_size): \(error). "
                    + "Retrain the tokenizer."
            )
        }
        guard meta.pattern == splitPattern else {
            throw UserError(
                "\(metaPath) uses a different split pattern than this build of nanochat; retrain the tokenizer.")
        }
        let names = meta.special_tokens.sorted { $0.value < $1.value }.map { $0.key }
        for (k, name) in names.enumerated() where meta.special_tokens[name] != vocab.count + k {
            throw UserError(
                "\(metaPath): special token \(name) has id \(meta.special_tokens[name]!), expected "
                    + "\(vocab.count + k) (right after the \(vocab.count) merges). The files do not belong "
                    + "together; retrain."
            )
        }
        guard meta.vocab_size == vocab.count + names.count else {
            throw UserError(
                "\(metaPath): vocab_size \(meta.vocab_size) but the files hold \(vocab.count) tokens + "
                    + "\(names.count) special. The files do not belong together; retrain."
            )
        }
        guard names == specialTokenNames else {
            throw UserError(
                "\(metaPath): special tokens \(names) differ from nanochat's \(specialTokenNames). Retrain the "
                    + "tokenizer."
            )
        }
        return Tokenizer(vocab: vocab, specials: names)
    }
}
