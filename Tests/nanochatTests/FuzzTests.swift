// The file readers against damaged input: a few thousand seeded mutations (bytes flipped, runs cut out,
// lengths patched, truncations) of a valid safetensors checkpoint, token shard, tokenizer and
// conversation file. Every one must load or fail with a UserError: no trap, no hang, no other error.

import Foundation
import XCTest
@testable import nanochat

final class FuzzTests: XCTestCase {
    /// `count` seeded variants of `valid`: random byte changes, a cut-out run, a truncation, or a patched
    /// little-endian length field at `lengthAt` (the header of a binary format).
    func mutants(of valid: Data, count: Int, seed: UInt64, lengthAt: Int? = nil) -> [Data] {
        var rng = RNG(seed: seed)
        let nasty: [UInt64] = [0, 1, 7, 8, .max, .max / 2, 1 << 62, UInt64(Int32.max), UInt64(valid.count), 0xFFFF_FFFF]
        return (0..<count).map { _ in
            var d = valid
            switch rng.int(4) {
            case 0:
                for _ in 0..<(1 + rng.int(8)) { d[rng.int(d.count)] = UInt8(rng.int(256)) }
            case 1:
                let a = rng.int(d.count), b = min(d.count, a + 1 + rng.int(64))
                d.removeSubrange(a..<b)
            case 2:
                d = d.prefix(rng.int(d.count))
            default:
                if let at = lengthAt, d.count >= at + 8 {
                    withUnsafeBytes(of: nasty[rng.int(nasty.count)].littleEndian) { d.replaceSubrange(at..<(at + 8), with: $0) }
                } else {
                    d.insert(UInt8(rng.int(256)), at: rng.int(d.count))
                }
            }
            return d
        }
    }

    /// Runs `body` on every mutant written to `path`; anything but success or a UserError fails the test.
    func fuzz(_ mutants: [Data], at path: String, _ what: String, _ body: () throws -> Void) throws {
        var failures = 0, loaded = 0
        for m in mutants {
            try m.write(to: URL(fileURLWithPath: path))
            do {
                try body()
                loaded += 1
            } catch is UserError {
                failures += 1
            } catch {
                XCTFail("\(what): a damaged file gave \(error) instead of a clear error")
            }
        }
        XCTAssertGreaterThan(failures, mutants.count / 4, "\(what): most damage is noticed")
        print("fuzz \(what): \(mutants.count) damaged files, \(failures) clear errors, \(loaded) loaded")
    }

    func testCheckpointReader() throws {
        let dir = Fixtures.tempDir("fuzzckpt")
        let model = GPT(config: GPTConfig(sequenceLen: 8, vocabSize: 16, nLayer: 1, nHead: 1, nKvHead: 1, nEmbd: 8),
                        maxBatch: 1)
        try Checkpoint.save(model: model, optimizer: Optimizer(model: model), to: dir, extra: ["step": "1"])
        for file in [Checkpoint.modelFile, Checkpoint.optimFile] {
            let path = dir + "/" + file
            let valid = try Data(contentsOf: URL(fileURLWithPath: path))
            let target = GPT(config: model.config, maxBatch: 1)
            try fuzz(mutants(of: valid, count: 1500, seed: 1, lengthAt: 0), at: path, file) {
                _ = try Checkpoint.load(into: target, optimizer: Optimizer(model: target), from: dir)
            }
            try valid.write(to: URL(fileURLWithPath: path))
        }
    }

    func testCheckpointMetadataAndShapesOutOfRange() throws {
        // The cases that once trapped or allocated absurdly: each is a clear error now.
        let dir = Fixtures.tempDir("badmeta")
        let model = GPT(config: GPTConfig(sequenceLen: 8, vocabSize: 16, nLayer: 1, nHead: 1, nKvHead: 1, nEmbd: 8),
                        maxBatch: 1)
        for (key, value) in [("n_embd", "10000000"), ("sequence_len", "100000000000"), ("sequence_len", "-5"),
                             ("n_layer", "0"), ("n_kv_head", "3")] {
            try Checkpoint.save(model: model, optimizer: nil, to: dir, extra: [key: value])
            assertUserError(["model.safetensors"]) { _ = try Checkpoint.inspect(dir) }
        }
        // A tensor whose shape is negative, or whose element count overflows.
        for shape in ["[-1]", "[2305843009213693952]", "[4294967296,4294967296]"] {
            let header = #"{"x":{"dtype":"F32","shape":"# + shape + #","data_offsets":[0,4]}}"#
            var file = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(Data(header.utf8))
            file.append(Data(count: 4))
            try file.write(to: URL(fileURLWithPath: dir + "/x.safetensors"))
            assertUserError(["not a valid safetensors file", "data_offsets"]) { _ = try Safetensors.read(dir + "/x.safetensors") }
        }
    }

    func testTokenShardReader() throws {
        let path = Fixtures.tempDir("fuzzshard") + "/a.bin"
        try TokenShard.write((0..<300).map { $0 % 100 }, to: path)
        let valid = try Data(contentsOf: URL(fileURLWithPath: path))
        try fuzz(mutants(of: valid, count: 1500, seed: 2, lengthAt: 4), at: path, "token shard") {
            _ = try TokenShard.read(path, vocabSize: 100)
        }
    }

    func testTokenizerReader() throws {
        let dir = Fixtures.tempDir("fuzztok")
        let small = Tokenizer(vocab: Array(Fixtures.smallTokenizer.vocab.prefix(400)))
        try small.save(to: dir)
        for file in ["tokenizer.tiktoken", "tokenizer.json"] {
            let path = dir + "/" + file
            let valid = try Data(contentsOf: URL(fileURLWithPath: path))
            try fuzz(mutants(of: valid, count: 800, seed: 3), at: path, file) { _ = try Tokenizer.load(from: dir) }
            try valid.write(to: URL(fileURLWithPath: path))
        }
    }

    func testConversationReader() throws {
        let path = Fixtures.tempDir("fuzzjsonl") + "/c.jsonl"
        let line = #"{"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":[{"type":"python","text":"2+2"},{"type":"python_output","text":"4"},{"type":"text","text":"It is 4."}]}]}"#
        let valid = Data((String(repeating: line + "\n", count: 5)).utf8)
        try fuzz(mutants(of: valid, count: 2000, seed: 4), at: path, "conversation JSONL") {
            _ = try ConversationFile.load(path)
        }
    }
}
