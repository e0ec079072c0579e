// Tests for the tokenizer: the split pattern against Python's regex (fixture), BPE training by hand and
// its determinism, encode/decode round trips, special tokens, the chat format's mask, and file errors.

import Foundation
import XCTest
@testable import nanochat

final class TokenizerTests: XCTestCase {

    // MARK: Pre-tokenizer

    func testSplitMatchesPythonRegexFixture() throws {
        let fixture = try Fixtures.json("split.json") as! [String: Any]
        XCTAssertEqual(fixture["pattern"] as? String, splitPattern, "fixture made with another pattern")
        let cases = fixture["cases"] as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 50)
        var failures = 0
        for c in cases {
            let input = [UInt8](Data(base64Encoded: c["input"] as! String)!)
            let expected = (c["chunks"] as! [String]).map { [UInt8](Data(base64Encoded: $0)!) }
            let got = splitChunks(input)
            if got != expected {
                failures += 1
                if failures <= 5 {
                    let show = { (x: [[UInt8]]) in x.prefix(12).map { String(decoding: $0, as: UTF8.self).debugDescription }.joined(separator: " ") }
                    XCTFail("case \(c["name"] ?? "?"): expected \(show(expected)) got \(show(got))")
                }
            }
        }
        XCTAssertEqual(failures, 0, "\(failures) of \(cases.count) split cases differ from Python's regex")
    }

    func testContractionsSplitOff() {
        // The pattern's first branch: 's 'd 'm 't 'll 've 're, any case, split from what follows.
        let chunks = { (s: String) in splitChunks(Array(s.utf8)).map { String(decoding: $0, as: UTF8.self) } }
        XCTAssertEqual(chunks("'tis"), ["'t", "is"])
        XCTAssertEqual(chunks("I'M"), ["I", "'M"])
        XCTAssertEqual(chunks("we'LL they've"), ["we", "'LL", " they", "'ve"])
        XCTAssertEqual(chunks("she'd"), ["she", "'d"])
    }

    // MARK: Against rustbpe and tiktoken (fixtures/bpe_reference.json, tools/make_tokenizer_fixture.py)

    /// The fixture: rustbpe's 300 merges on the first 29,989 bytes of macbeth.txt, and tiktoken's ids of 55
    /// varied texts under that vocab and under a reordering of the same merges.
    func bpeFixture() throws -> [String: Any] {
        try XCTUnwrap(Fixtures.json("bpe_reference.json") as? [String: Any])
    }

    func testTrainerMatchesRustbpe() throws {
        let f = try bpeFixture()
        XCTAssertEqual(f["pattern"] as? String, splitPattern, "fixture made with another pattern")
        let corpus = try XCTUnwrap(f["corpus"] as? [String: Any])
        let text = try Data(contentsOf: Fixtures.repoRoot.appendingPathComponent(try XCTUnwrap(corpus["file"] as? String)))
        let doc = [UInt8](text.prefix(try XCTUnwrap(corpus["bytes"] as? Int)))
        let pairs = try XCTUnwrap(f["pairs"] as? [[Int]])
        let merges = trainBPE(countChunks([doc]), numMerges: pairs.count)
        XCTAssertEqual(merges.count, pairs.count)
        let ours: [[Int]] = merges.map { m in [Int(m.0), Int(m.1)] }
        let first = ours.indices.first { (i: Int) -> Bool in ours[i] != pairs[i] }
        XCTAssertNil(first, "our merge \(first.map { 256 + $0 } ?? 0) differs from rustbpe's")
        // The bytes of every merged token, as rustbpe's mergeable ranks give them.
        let tok = Tokenizer(merges: merges)
        let bytes = try XCTUnwrap(f["merges"] as? [String]).map { [UInt8](Data(base64Encoded: $0)!) }
        XCTAssertEqual(Array(tok.vocab[256...]), bytes)
    }

    func testEncodeMatchesTiktoken() throws {
        let f = try bpeFixture()
        let toPairs = { (a: [[Int]]) in a.map { (UInt32($0[0]), UInt32($0[1])) } }
        let trained = Tokenizer(merges: toPairs(try XCTUnwrap(f["pairs"] as? [[Int]])))
        let reorderedInfo = try XCTUnwrap(f["reordered"] as? [String: Any])
        let reordered = Tokenizer(merges: toPairs(try XCTUnwrap(reorderedInfo["pairs"] as? [[Int]])))
        let cases = try XCTUnwrap(f["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        var failures = 0
        for c in cases {
            let text = try XCTUnwrap(c["text"] as? String), name = c["name"] as? String ?? "?"
            for (tok, key) in [(trained, "ids"), (reordered, "ids_reordered")] {
                let want = try XCTUnwrap(c[key] as? [Int])
                let got = tok.encode(text)
                if got != want {
                    failures += 1
                    if failures <= 5 { XCTFail("\(name) (\(key)): tiktoken \(want.prefix(16)), ours \(got.prefix(16))") }
                }
                XCTAssertEqual(tok.decode(got), text)
            }
        }
        XCTAssertEqual(failures, 0, "\(failures) encodings differ from tiktoken's")
    }

    // MARK: Training

    func testTrainingByHand() {
        // Chunks: "ab" once, " ab" twice. Pairs: (a,b)=3, (' ',a)=2, so (a,b) merges first into 256;
        // then (' ',256) occurs twice and becomes 257.
        let merges = trainBPE(countChunks([Array("ab ab ab".utf8)]), numMerges: 10)
        XCTAssertEqual(merges.map { [$0.0, $0.1] }, [[97, 98], [32, 256]])
    }

    func testTieBreakAndOverlappingPairs() {
        // "aaaa" once: pair (a,a) occurs 3 times (overlapping), but merging leaves [256, 256]: the counts
        // after the merge must be exact for the second merge to be (256, 256).
        let merges = trainBPE(countChunks([Array("aaaa".utf8)]), numMerges: 10)
        XCTAssertEqual(merges.map { [$0.0, $0.1] }, [[97, 97], [256, 256]])
        // Equal counts: the smaller pair wins, whatever the text order.
        let tie = trainBPE(countChunks([Array("zy bc".utf8)]), numMerges: 1)
        XCTAssertEqual(tie.map { [$0.0, $0.1] }, [[32, 98]])
    }

    func testTrainingIsDeterministicAndThreadIndependent() throws {
        let corpus = try Corpus.load([Fixtures.repoRoot.appendingPathComponent("data/shakespeare/val").path])
        let one = trainBPE(countChunks(corpus.documents, threads: 1), numMerges: 500)
        let two = trainBPE(countChunks(corpus.documents, threads: 2), numMerges: 500)
        let again = trainBPE(countChunks(corpus.documents, threads: 2), numMerges: 500)
        XCTAssertEqual(one.count, 500)
        XCTAssertTrue(one.elementsEqual(two, by: { $0 == $1 }))
        XCTAssertTrue(two.elementsEqual(again, by: { $0 == $1 }))
    }

    func testCountsMatchNaiveCount() throws {
        let corpus = try Corpus.load([Fixtures.repoRoot.appendingPathComponent("data/shakespeare/val").path])
        let counted = countChunks(corpus.documents)
        var naive: [[UInt8]: Int] = [:]
        for doc in corpus.documents { for c in splitChunks(doc) { naive[c, default: 0] += 1 } }
        XCTAssertEqual(counted.chunks.count, naive.count)
        for (chunk, n) in zip(counted.chunks, counted.counts) { XCTAssertEqual(naive[chunk], n) }
    }

    // MARK: Encode / decode

    func testRoundTripRandomBytes() {
        let tok = Fixtures.smallTokenizer
        var rng = RNG(seed: 7)
        for _ in 0..<300 {
            let n = rng.int(200)
            // Mix random bytes with text-like bytes so merges fire.
            let bytes: [UInt8] = (0..<n).map { _ in rng.int(3) == 0 ? UInt8(rng.int(256)) : Array(" etaoinshr\n".utf8)[rng.int(11)] }
            let ids = tok.encodeOrdinary(bytes)
            XCTAssertEqual(tok.decodeBytes(ids), bytes)
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && $0 < tok.vocab.count })
        }
    }

    func testEveryTokenRoundTrips() {
        let tok = Fixtures.smallTokenizer
        for id in 0..<tok.vocab.count {
            let bytes = tok.vocab[id]
            XCTAssertEqual(tok.decodeBytes([id]), bytes)
            XCTAssertEqual(tok.decodeBytes(tok.encodeOrdinary(bytes)), bytes)
        }
    }

    func testEncodeMergesLowestRankFirst() {
        // Vocab: bytes, then "bc" (256), then "ab" (257), then "abc" = "a"+"bc" (258).
        // In "abc" the pair (b,c) has the lower rank and merges first; then a+bc joins into "abc"
        // because tiktoken looks up the joined bytes, not the training pair.
        var vocab = (0..<256).map { [UInt8($0)] }
        vocab += [Array("bc".utf8), Array("ab".utf8), Array("abc".utf8)]
        let tok = Tokenizer(vocab: vocab)
        XCTAssertEqual(tok.encode("abc"), [258])
        XCTAssertEqual(tok.encode("abd"), [257, 100])
        // Encoding the same chunk twice goes through the cache and must agree.
        XCTAssertEqual(tok.encode("abc abc abc"), [258, 32, 258, 32, 258])
        // Without "abc" the merge order shows: (b,c) has the lower rank, so "abc" is a + bc, not ab + c
        // (which a leftmost-first encoder gives); "xabcab" likewise, with "ab" merged where nothing competes.
        let noJoin = Tokenizer(vocab: Array(vocab.prefix(258)))
        XCTAssertEqual(noJoin.encode("abc"), [97, 256])
        XCTAssertEqual(noJoin.encode("xabcab"), [120, 97, 256, 257])
        // Rank order, not position: with "cd" (258) and "bcd" (259), "abcd" merges (b,c) first (rank 256),
        // then bc + d, whose joined bytes are the token "bcd": a + bcd. Leftmost-first gives ab + cd.
        let order = Tokenizer(vocab: Array(vocab.prefix(258)) + [Array("cd".utf8), Array("bcd".utf8)])
        XCTAssertEqual(order.encode("abcd"), [97, 259])
    }

    func testDecodeReplacesInvalidUTF8OnlyWhenPrinting() {
        let tok = Fixtures.smallTokenizer
        let ids = tok.encodeOrdinary([0xE2, 0x82])  // a truncated euro sign
        XCTAssertEqual(tok.decodeBytes(ids), [0xE2, 0x82])
        XCTAssertEqual(tok.decode(ids), "\u{FFFD}")  // one replacement for the maximal invalid subpart
    }

    func testSpecialTokensOnlyOnRequest() {
        let tok = Fixtures.smallTokenizer
        let text = "hello <|bos|> there <|assistant_end|><|python_start|>"
        let plain = tok.encode(text)
        XCTAssertFalse(plain.contains { tok.isSpecial($0) }, "plain text produced a special token")
        XCTAssertEqual(tok.decode(plain), text)
        let special = tok.encode(text, allowSpecial: true)
        XCTAssertTrue(special.contains(tok.bosId))
        XCTAssertTrue(special.contains(tok.id(.assistantEnd)))
        XCTAssertTrue(special.contains(tok.id(.pythonStart)))
        XCTAssertEqual(tok.decode(special), text)
        XCTAssertEqual(tok.vocabSize, 1024)
        XCTAssertEqual(tok.bosId, 1024 - specialTokenNames.count)
    }

    // MARK: Files

    func testSaveLoadRoundTrip() throws {
        let tok = Fixtures.smallTokenizer
        let dir = Fixtures.tempDir("tok")
        try tok.save(to: dir)
        let back = try Tokenizer.load(from: dir)
        XCTAssertEqual(back.vocab, tok.vocab)
        XCTAssertEqual(back.specialIds, tok.specialIds)
        XCTAssertEqual(back.hash, tok.hash)
        let text = "To be, or not to be: that is the question."
        XCTAssertEqual(back.encode(text), tok.encode(text))
    }

    func testLoadErrors() throws {
        let tok = Fixtures.smallTokenizer
        assertUserError(["no tokenizer", "tok-train"]) { _ = try Tokenizer.load(from: "/nonexistent/tokenizer") }

        let dir = Fixtures.tempDir("bad")
        try tok.save(to: dir)
        let ranks = dir + "/tokenizer.tiktoken", meta = dir + "/tokenizer.json"
        let goodRanks = try String(contentsOfFile: ranks, encoding: .utf8)
        let goodMeta = try String(contentsOfFile: meta, encoding: .utf8)

        // Truncated: only 100 lines.
        try goodRanks.split(separator: "\n").prefix(100).joined(separator: "\n").write(toFile: ranks, atomically: true, encoding: .utf8)
        assertUserError(["truncated"]) { _ = try Tokenizer.load(from: dir) }
        // Truncated after the bytes: the special-token ids no longer follow the merges.
        try goodRanks.split(separator: "\n").prefix(600).joined(separator: "\n").write(toFile: ranks, atomically: true, encoding: .utf8)
        assertUserError(["special token", "do not belong together"]) { _ = try Tokenizer.load(from: dir) }
        // Malformed line.
        try (goodRanks + "this is not base64\n").write(toFile: ranks, atomically: true, encoding: .utf8)
        assertUserError(["line \(tok.vocab.count + 1)", "expected '<base64> <rank>'"]) { _ = try Tokenizer.load(from: dir) }
        // Rank out of order.
        try goodRanks.replacingOccurrences(of: " 300\n", with: " 301\n").write(toFile: ranks, atomically: true, encoding: .utf8)
        assertUserError(["rank 301 out of order"]) { _ = try Tokenizer.load(from: dir) }
        // Binary garbage.
        try Data([0xFF, 0xFE, 0x00, 0x80]).write(to: URL(fileURLWithPath: ranks))
        assertUserError(["not UTF-8"]) { _ = try Tokenizer.load(from: dir) }
        try goodRanks.write(toFile: ranks, atomically: true, encoding: .utf8)
        // Bad JSON, missing JSON, wrong vocab size.
        try "{\"pattern\": 3".write(toFile: meta, atomically: true, encoding: .utf8)
        assertUserError(["not valid tokenizer JSON"]) { _ = try Tokenizer.load(from: dir) }
        try goodMeta.replacingOccurrences(of: "\"vocab_size\" : 1024", with: "\"vocab_size\" : 2048").write(toFile: meta, atomically: true, encoding: .utf8)
        assertUserError(["vocab_size 2048"]) { _ = try Tokenizer.load(from: dir) }
        try FileManager.default.removeItem(atPath: meta)
        assertUserError(["tokenizer metadata not found"]) { _ = try Tokenizer.load(from: dir) }
        try goodMeta.write(toFile: meta, atomically: true, encoding: .utf8)
        XCTAssertNoThrow(try Tokenizer.load(from: dir))
    }

    func testShardRoundTripAndErrors() throws {
        let dir = Fixtures.tempDir("shard")
        let path = dir + "/a.bin"
        let tokens = [1023, 0, 5, 65535 - 65535 + 700]
        try TokenShard.write(tokens, to: path)
        XCTAssertEqual(try TokenShard.read(path, vocabSize: 1024).map(Int.init), tokens)
        assertUserError(["another tokenizer"]) { _ = try TokenShard.read(path, vocabSize: 512) }
        assertUserError(["token id 1023", "vocab size is 1023"]) { _ = try TokenShard.read(path, vocabSize: 1023) }
        assertUserError(["not found"]) { _ = try TokenShard.read(dir + "/missing.bin", vocabSize: 1024) }
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 2).write(to: URL(fileURLWithPath: path))
        assertUserError(["truncated"]) { _ = try TokenShard.read(path, vocabSize: 1024) }
        data[0] = 0
        try data.write(to: URL(fileURLWithPath: path))
        assertUserError(["bad magic"]) { _ = try TokenShard.read(path, vocabSize: 1024) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        assertUserError(["header"]) { _ = try TokenShard.read(path, vocabSize: 1024) }
        assertUserError(["id 70000"]) { try TokenShard.write([70000], to: path) }
    }

    func testCorpusErrors() throws {
        assertUserError(["not found"]) { _ = try Corpus.load(["/nonexistent.txt"]) }
        let dir = Fixtures.tempDir("corpus")
        assertUserError(["no *.txt files"]) { _ = try Corpus.load([dir]) }
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/empty.txt", contents: Data()))
        assertUserError(["empty"]) { _ = try Corpus.load([dir]) }
    }
}
