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
        XCTAssertEqual(try ConversationFile.parse(convs.map(ConversationFile.line).joined(separator: "\n"), name: "x"), convs)
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
                    let outStart = ids.firstIndex(of: tok.specialId("<|output_start|>"))!
                    let outEnd = ids.firstIndex(of: tok.specialId("<|output_end|>"))!
                    XCTAssertTrue(mask[outStart...outEnd].allSatisfy { $0 == 0 })
                    XCTAssertEqual(mask[ids.firstIndex(of: tok.specialId("<|python_start|>"))!], 1)
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
        // Conversations of distinct lengths, made of one repeated id each, so rows can be traced back.
        let T = 16
        var convs: [(ids: [Int], mask: [UInt8])] = []
        for d in 0..<30 {
            let n = d == 0 ? 40 : 2 + (d * 7) % 15  // conversation 0 is longer than a row
            convs.append(([1000] + [Int](repeating: d, count: n - 1), [0] + [UInt8](repeating: 1, count: n - 1)))
        }
        var loader = try SFTLoader(conversations: convs, T: T, pad: 1001, seed: 3)
        XCTAssertEqual(loader.cropped, 1)
        var seen = [Int](repeating: 0, count: 30)
        let ids = UnsafeMutablePointer<Int32>.allocate(capacity: T + 1), w = UnsafeMutablePointer<Float>.allocate(capacity: T)
        defer { ids.deallocate(); w.deallocate() }
        var rows = 0
        while seen.reduce(0, +) < convs.reduce(0, { $0 + min($1.ids.count, T + 1) - 1 }) && rows < 200 {
            loader.nextRow(ids: ids, weights: w)
            rows += 1
            for k in 0...T where ids[k] < 1000 { seen[Int(ids[k])] += 1 }
            for k in 0..<T where ids[k + 1] == 1001 || ids[k + 1] == 1000 { XCTAssertEqual(w[k], 0, "pad and bos targets carry no weight") }
            for k in 0..<T where ids[k + 1] < 1000 { XCTAssertEqual(w[k], 1) }
        }
        for d in 0..<30 { XCTAssertEqual(seen[d], min(convs[d].ids.count, T + 1) - 1, "conversation \(d) lost or duplicated tokens") }
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
