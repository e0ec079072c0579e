// Token shards in llm.c's .bin format: a header of 256 int32 (magic 20240520, version 1, token count),
// then the tokens as little-endian uint16. Reading memory-maps the file and checks everything it can.

import Foundation

enum TokenShard {
    static let magic: Int32 = 20240520
    static let version: Int32 = 1
    static let headerInts = 256

    /// Writes tokens (every id < 65536) to `path` atomically.
    static func write(_ tokens: [Int], to path: String) throws {
        var data = Data(count: headerInts * 4 + tokens.count * 2)
        try data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            let header = raw.baseAddress!.assumingMemoryBound(to: Int32.self)
            header[0] = magic.littleEndian
            header[1] = version.littleEndian
            header[2] = Int32(tokens.count).littleEndian
            let body = (raw.baseAddress! + headerInts * 4).assumingMemoryBound(to: UInt16.self)
            for (k, t) in tokens.enumerated() {
                guard t >= 0 && t < 65536 else {
                    throw UserError("token id \(t) does not fit a uint16 shard (vocab must be <= 65536)")
                }
                body[k] = UInt16(t).littleEndian
            }
        }
        try writeAtomically(data, to: path)
    }

    /// Reads a shard (memory-mapped), checking magic, version, length and that every id is < vocabSize.
    static func read(_ path: String, vocabSize: Int) throws -> [UInt16] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw UserError(
                "token shard not found: \(path). Make it with `nanochat tokenize --bin` or the data-prep stage.")
        }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw UserError("cannot read token shard \(path)")
        }
        guard data.count >= headerInts * 4 else {
            throw UserError(
                "\(path) is \(data.count) bytes, shorter than the 1024-byte header: not a token shard (or "
                    + "truncated). Recreate it."
            )
        }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [UInt16] in
            let m = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: Int32.self))
            let v = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: Int32.self))
            let n = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: Int32.self)))
            guard m == magic else {
                throw UserError("\(path): bad magic \(m) (expected \(magic)): not an llm.c token shard")
            }
            guard v == version else {
                throw UserError("\(path): shard version \(v), this build reads version \(version)")
            }
            guard n >= 0, data.count == headerInts * 4 + n * 2 else {
                throw UserError(
                    "\(path): header says \(n) tokens but the file holds \((data.count - headerInts * 4) / 2): "
                        + "truncated or corrupt. Recreate it."
                )
            }
            var tokens = [UInt16](repeating: 0, count: n)
            var maxId = 0
            tokens.withUnsafeMutableBufferPointer { t in
                for k in 0..<n {
                    let x = UInt16(
                        littleEndian: raw.loadUnaligned(fromByteOffset: headerInts * 4 + 2 * k, as: UInt16.self))
                    t[k] = x
                    maxId = max(maxId, Int(x))
                }
            }
            guard n == 0 || maxId < vocabSize else {
                throw UserError(
                    "\(path) holds token id \(maxId) but the tokenizer's vocab size is \(vocabSize): the shard was "
                        + "made with another tokenizer. Re-tokenize the corpus."
                )
            }
            return tokens
        }
    }
}
