// Post-training data: the JSONL loader and its errors, each task family's conversations (rendering, mask)
// and grader, the SFT packer, and the mixture's determinism.

import XCTest
@testable import nanochat

final class ChatDataTests: XCTestCase {
    let tok = Fixtures.smallTokenizer
    var words: TaskWords { try! TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path) }

    func testJSONLRoundTripAndParts() throws {
        let text = """
        {"messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":[{"type":"python","text":"2+2"},{"type":"python_output","text":"4"},{"type":"text","text":"#### 4"}]}]}

        {"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}
        """
        let convs = try ConversationFile.parse(text, name: "t.jsonl")
        XCTAssertEqual(convs.count, 2)
        XCTAssertEqual(convs[0].messages[1].parts.map(\.type), [.python, .python_output, .text])
        XCTAssertEqual(try ConversationFile.parse(convs.map { try ConversationFile.line($0) }.joined(separator: "\n"), name: "x"), convs)
    }

    func testJSONLErrors() {
        let bad: [(String, String)] = [
            ("{not json", "not a JSON object"),
            ("{\"messages\":[]}", "non-empty \"messages\""),
            ("{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "unknown role \"robot\""),
            ("{\"messages\":[{\"content\":\"x\"}]}", "missing \"role\""),
            ("{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "empty content"),
            ("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]}", "alternate"),
            ("{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\"}]}", "alternate"),
            ("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}]}", "must be a string"),
            ("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"code\",\"text\":\"a\"}]}]}", "part 1"),
            ("{\"messages\":[{\"role\":\"system\",\"content\":\"a\"}]}", "system message alone"),
            ("{\"messages\":[{\"role\":\"user\",\"content\":3}]}", "must be a string"),
        ]
        for (line, fragment) in bad {
            assertUserError(["f.jsonl line 2", fragment]) { _ = try ConversationFile.parse("\n" + line, name: "f.jsonl") }
        }
        assertUserError(["not found"]) { _ = try ConversationFile.load("/nonexistent.jsonl") }
    }

    func testTaskConversationsRenderWithTheRightMask() throws {
        for kind in TaskKind.allCases {
            for ex in generateTask(kind, count: 20, seed: 3, words: words) {
                let (ids, mask) = try tok.renderConversation(ex.conversation)
                // The user's question is never trained; the reference answer is.
                let prompt = try tok.renderForCompletion(Conversation(messages: [ex.conversation.messages[0]]))
                XCTAssertEqual(Array(ids.prefix(prompt.count)), prompt)
                XCTAssertTrue(mask.prefix(prompt.count).allSatisfy { $0 == 0 })
                XCTAssertEqual(mask.last, 1, "<|assistant_end|> is trained")
                // The reference answer passes its own grader.
                let answerText = ex.conversation.messages[1].text
                XCTAssertTrue(grade(ex, response: answerText), "\(kind): reference answer fails: \(answerText)")
                if kind == .arithmetic {
                    // Tool output tokens are not trained; the python call is.
                    let outStart = ids.firstIndex(of: tok.id(.outputStart))!
                    let outEnd = ids.firstIndex(of: tok.id(.outputEnd))!
                    XCTAssertTrue(mask[outStart...outEnd].allSatisfy { $0 == 0 })
                    XCTAssertEqual(mask[ids.firstIndex(of: tok.id(.pythonStart))!], 1)
                }
            }
        }
    }

    func testGradersRejectWrongAnswers() {
        let ar = generateTask(.arithmetic, count: 1, seed: 1, words: words)[0]
        XCTAssertTrue(grade(ar, response: "blah\n#### \(ar.answer)"))
        XCTAssertFalse(grade(ar, response: "#### \(Int(Double(ar.answer)!) + 1)"))
        XCTAssertFalse(grade(ar, response: "the answer is \(ar.answer)"), "no #### line")
        let sp = generateTask(.spelling, count: 1, seed: 1, words: words)[0]
        XCTAssertTrue(grade(sp, response: "#### " + sp.answer.uppercased()))
        XCTAssertFalse(grade(sp, response: "#### " + sp.answer + "-x"))
        let co = generateTask(.counting, count: 1, seed: 1, words: words)[0]
        XCTAssertFalse(grade(co, response: "#### \(Int(co.answer)! + 1)"))
        let ch = generateTask(.choice, count: 1, seed: 1, words: words)[0]
        XCTAssertTrue(grade(ch, response: "reasoning\n#### " + ch.answer))
        XCTAssertFalse(grade(ch, response: "#### " + choiceLetters.first { $0 != ch.answer }!))
        XCTAssertFalse(grade(ch, response: ch.answer), "the letter must come on the #### line")
        XCTAssertEqual(finalAnswer("a\n#### 12\nmore"), "12")
        XCTAssertNil(finalAnswer("no answer"))
    }

    func testTestSetsAreFixedAndDeterministic() {
        for kind in TaskKind.allCases {
            let a = testSet(kind, words: words, count: 30), b = testSet(kind, words: words, count: 30)
            XCTAssertEqual(a.map(\.conversation), b.map(\.conversation))
            let train = generateTask(kind, count: 30, seed: 7, words: words)
            XCTAssertNotEqual(a.map(\.conversation), train.map(\.conversation))
        }
    }

    func testPackerKeepsEveryConversationOnceAndCrops() throws {
        // Conversation d has ids d·100 + j (j = its position), so every token can be traced back; its mask
        // is irregular (not 0 then 1s), so a weight must come from the right token's mask entry.
        let T = 16, bos = 5000, pad = 5001
        var convs: [(ids: [Int], mask: [UInt8])] = []
        for d in 0..<30 {
            let n = d == 0 ? 40 : 2 + (d * 7) % 15  // conversation 0 is longer than a row
            let mask = (0..<n).map { j -> UInt8 in j == 0 ? 0 : ((d + j) % 3 == 0 ? 0 : 1) }
            convs.append(([bos] + (1..<n).map { d * 100 + $0 }, mask))
        }
        var loader = try SFTLoader(conversations: convs, T: T, pad: pad, seed: 3)
        XCTAssertEqual(loader.cropped, 1)
        var seen = [Int](repeating: 0, count: 30)
        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: T + 1), w = UnsafeMutablePointer<Float>.allocate(capacity: T)
        defer { ids.deallocate(); w.deallocate() }
        let expected = convs.reduce(0) { $0 + min($1.ids.count, T + 1) - 1 }
        var rows = 0
        while seen.reduce(0, +) < expected && rows < 200 {
            loader.nextRow(ids: ids, weights: w)
            rows += 1
            for k in 0...T where ids[k] < Int32(bos) { seen[Int(ids[k]) / 100] += 1 }
            for k in 0..<T {
                let target = Int(ids[k + 1])
                if target >= bos { XCTAssertEqual(w[k], 0, "pad and bos targets carry no weight"); continue }
                // The token before a traced token is its own conversation's previous token (or its bos).
                let d = target / 100, j = target % 100
                XCTAssertEqual(Int(ids[k]), j == 1 ? bos : target - 1, "conversation \(d) is contiguous in its row")
                XCTAssertEqual(w[k], Float(convs[d].mask[j]), "weight of conversation \(d)'s token \(j) is its mask")
            }
        }
        for d in 0..<30 { XCTAssertEqual(seen[d], min(convs[d].ids.count, T + 1) - 1, "conversation \(d) lost or duplicated tokens") }
        XCTAssertLessThanOrEqual(rows, 24, "the conversations fit in about \(expected / T) rows when packed")
    }

    /// SFT end to end: a rendered conversation (user, tool call, tool output, answer) becomes a row whose
    /// target weights are its chat mask, and those weights are the ones the training loop's loss uses.
    func testSFTWeightsReachTheTrainingLoop() throws {
        let ex = generateTask(.arithmetic, count: 1, seed: 4, words: words)[0]
        let (ids, mask) = try tok.renderConversation(ex.conversation)
        XCTAssertTrue(mask.contains(0) && mask.contains(1) && mask.dropFirst().contains(0), "the mask has untrained parts")
        let T = ids.count - 1  // one conversation fills one row exactly
        var loader = try SFTLoader(conversations: [(ids, mask)], T: T, pad: tok.bosId, seed: 1)
        var inputs = [Int32](repeating: 0, count: T), targets = inputs, weights = [Float](repeating: -1, count: T)
        XCTAssertTrue(loader.nextBatch(B: 1, inputs: &inputs, targets: &targets, weights: &weights), "SFT batches carry weights")
        XCTAssertEqual(inputs.map(Int.init), Array(ids.dropLast()))
        XCTAssertEqual(targets.map(Int.init), Array(ids.dropFirst()))
        XCTAssertEqual(weights, mask.dropFirst().map(Float.init), "the weight of each target is its mask entry")

        // One training step through the shared loop reports the loss of exactly those weights.
        var o = PretrainOptions()
        o.depth = 1; o.seqLen = T; o.batchSize = 1; o.totalBatchTokens = T; o.steps = 1
        o.evalEvery = 0; o.sampleEvery = 0; o.saveEvery = 0; o.quiet = true; o.seed = 11
        var stageLoader = try SFTLoader(conversations: [(ids, mask)], T: T, pad: tok.bosId, seed: 1)
        let dir = Fixtures.tempDir("sftloop")
        let r = try trainStage(tokenizer: tok, source: &stageLoader, val: [], outDir: dir, options: o)
        let model = GPT(config: GPTConfig(depth: 1, vocabSize: tok.vocabSize, sequenceLen: T), maxBatch: 1, seed: 11)
        let weighted = model.forward(inputs, targets, weights, B: 1, T: T)
        let unweighted = model.forward(inputs, targets, nil, B: 1, T: T)
        XCTAssertEqual(r.lastLoss, weighted, "the loop's loss is the masked loss")
        XCTAssertNotEqual(weighted, unweighted)
    }

    func testMixtureIsDeterministic() throws {
        let path = Fixtures.tempDir("mix") + "/id.jsonl"
        try "{\"messages\":[{\"role\":\"user\",\"content\":\"who are you\"},{\"role\":\"assistant\",\"content\":\"nanochat\"}]}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let m1 = try ChatMixture.standard(identity: path, words: words, perTask: 10, seed: 5)
        let m2 = try ChatMixture.standard(identity: path, words: words, perTask: 10, seed: 5)
        XCTAssertEqual(m1.conversations(seed: 1), m2.conversations(seed: 1))
        XCTAssertNotEqual(m1.conversations(seed: 1), m1.conversations(seed: 2))
        XCTAssertEqual(m1.conversations(seed: 1).count, 2 + 3 * 10 + 3 * 10)  // identity ×2, choice ×3
    }
}
