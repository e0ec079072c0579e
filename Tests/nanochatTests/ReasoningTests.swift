// The reasoning routes' pieces (Lessons/14-reasoning.md): terse answers and what SFT trains of them, the
// format reward on hand-made good and bad endings, rejection sampling for off-policy distillation, and the
// vote sizes chat-eval reports from one set of samples.

import XCTest
@testable import nanochat

final class ReasoningTests: XCTestCase {
    let tok = Fixtures.smallTokenizer
    var words: TaskWords { try! TaskWords.load(Fixtures.repoRoot.appendingPathComponent("data/words").path) }

    /// The tokens SFT trains (mask 1) of a conversation, decoded with their special tokens.
    func trained(_ c: Conversation) throws -> String {
        let (ids, mask) = try tok.renderConversation(c)
        return tok.decode(zip(ids, mask).filter { $0.1 == 1 }.map(\.0))
    }

    func testTerseAnswersTrainOnlyTheFinalLine() throws {
        for kind in TaskKind.allCases {
            for ex in generateTask(kind, count: 10, seed: 5, words: words) {
                let t = ex.terse
                XCTAssertEqual(t.conversation.messages[0], ex.conversation.messages[0], "the same question")
                XCTAssertEqual(t.answer, ex.answer)
                XCTAssertEqual(t.conversation.messages[1].parts.map(\.type), [.text], "no calculator call")
                XCTAssertEqual(try trained(t.conversation), "#### \(ex.answer)<|assistant_end|>")
                XCTAssertTrue(grade(ex, response: t.conversation.messages[1].text), "the grader accepts it")
            }
        }
        // The reasoning version of arithmetic trains the call and the copy, not the calculator's output.
        let ex = generateTask(.arithmetic, count: 1, seed: 5, words: words)[0]
        let verbose = try trained(ex.conversation)
        XCTAssertTrue(verbose.hasPrefix("Let me calculate. <|python_start|>"), verbose)
        XCTAssertTrue(verbose.contains("<|python_end|>\n#### \(ex.answer)<|assistant_end|>"), verbose)
        XCTAssertFalse(verbose.contains("<|output_start|>"), "the forced output is not trained")
        // Counting's steps go letter by letter; its terse form has none of them.
        let count = generateTask(.counting, count: 1, seed: 5, words: words)[0]
        XCTAssertTrue(try trained(count.conversation).contains(": "))
        XCTAssertFalse(try trained(count.terse.conversation).contains(": "))
        // The mixture's terse switch changes every task conversation and keeps the identity ones.
        let steps = try ChatMixture.standard(
            identity: Fixtures.repoRoot.appendingPathComponent("data/chat/identity.jsonl").path, words: words,
            perTask: 5, seed: 1)
        let terse = try ChatMixture.standard(
            identity: Fixtures.repoRoot.appendingPathComponent("data/chat/identity.jsonl").path, words: words,
            perTask: 5, seed: 1, terse: true)
        XCTAssertEqual(steps.entries[0].conversations, terse.entries[0].conversations)
        for (a, b) in zip(steps.entries.dropFirst(), terse.entries.dropFirst()) {
            XCTAssertEqual(b.conversations.map { $0.messages[0] }, a.conversations.map { $0.messages[0] })
            XCTAssertTrue(b.conversations.allSatisfy { $0.messages[1].text.hasPrefix("#### ") })
        }
    }

    /// Hand-made answers as the Engine returns them: text sampled, a calculator call whose output is forced.
    func sampled(_ text: String) -> [GeneratedToken] { tok.encode(text).map { GeneratedToken(id: $0, forced: false) } }
    func special(_ t: SpecialToken, forced: Bool = false) -> GeneratedToken { GeneratedToken(id: tok.id(t), forced: forced) }
    func call(_ expr: String, _ output: String?) -> [GeneratedToken] {
        var a = [special(.pythonStart)] + sampled(expr) + [special(.pythonEnd)]
        if let output {
            a += [special(.outputStart, forced: true)] + tok.encode(output).map { GeneratedToken(id: $0, forced: true) }
                + [special(.outputEnd, forced: true)]
        }
        return a
    }

    func testFormatRewardOnHandMadeEndings() {
        let good = sampled("Let me calculate. ") + call("3+4", "7") + sampled("\n#### 7")
        let f = answerFormat(.arithmetic, tokens: good, ended: true, tok: tok)
        XCTAssertEqual(f, AnswerFormat(ending: true, toolCall: true))
        XCTAssertEqual(formatScore(.arithmetic, f), 1)
        let cases: [(String, [GeneratedToken], Bool, AnswerFormat)] = [
            ("ran out of tokens", good, false, AnswerFormat(ending: false, toolCall: true)),
            ("text after the answer", good + sampled("\nand more"), true, AnswerFormat(ending: false, toolCall: true)),
            ("not a number", sampled("Let me calculate. ") + call("3+4", "7") + sampled("\n#### seven"), true,
             AnswerFormat(ending: false, toolCall: true)),
            ("no final answer", sampled("Let me calculate. ") + call("3+4", "7"), true,
             AnswerFormat(ending: false, toolCall: true)),
            ("no calculator call", sampled("#### 7"), true, AnswerFormat(ending: true, toolCall: false)),
            ("the calculator failed", call("3+", "error: unexpected end") + sampled("\n#### 7"), true,
             AnswerFormat(ending: true, toolCall: false)),
            ("a call never closed", [special(.pythonStart)] + sampled("3+4\n#### 7"), true,
             AnswerFormat(ending: true, toolCall: false)),
            ("one good call, one bad", call("3+4", "7") + call("7*", "error: x") + sampled("\n#### 7"), true,
             AnswerFormat(ending: true, toolCall: false)),
            ("two good calls", call("3+4", "7") + call("7*2", "14") + sampled("\n#### 14"), true,
             AnswerFormat(ending: true, toolCall: true)),
        ]
        for (name, tokens, ended, want) in cases {
            XCTAssertEqual(answerFormat(.arithmetic, tokens: tokens, ended: ended, tok: tok), want, name)
        }
        XCTAssertEqual(formatScore(.arithmetic, AnswerFormat(ending: true, toolCall: false)), 0.5)
        XCTAssertEqual(formatScore(.arithmetic, AnswerFormat(ending: false, toolCall: false)), 0)
        // Other tasks have no calculator: the ending is the whole format score.
        let choice = answerFormat(.choice, tokens: sampled("A. oak: tree vs fish, no.\n#### B"), ended: true, tok: tok)
        XCTAssertEqual(formatScore(.choice, choice), 1)
        XCTAssertEqual(formatScore(.choice, answerFormat(.choice, tokens: sampled("B"), ended: true, tok: tok)), 0)
    }

    func testTaskRewardAddsAccuracyAndFormat() {
        var ex = generateTask(.arithmetic, count: 1, seed: 5, words: words)[0]
        ex.answer = "7"
        let rightAndWellFormed = sampled("Let me calculate. ") + call("3+4", "7") + sampled("\n#### 7")
        let wrongButWellFormed = sampled("Let me calculate. ") + call("3+5", "8") + sampled("\n#### 8")
        let rightNoCall = sampled("#### 7")
        let w = RewardWeights(accuracy: 1, format: 0.2)
        XCTAssertEqual(taskReward(ex, tokens: rightAndWellFormed, ended: true, tok: tok, weights: w), 1.2, accuracy: 1e-6)
        XCTAssertEqual(taskReward(ex, tokens: wrongButWellFormed, ended: true, tok: tok, weights: w), 0.2, accuracy: 1e-6)
        XCTAssertEqual(taskReward(ex, tokens: rightNoCall, ended: true, tok: tok, weights: w), 1.1, accuracy: 1e-6)
        XCTAssertEqual(taskReward(ex, tokens: rightNoCall, ended: false, tok: tok, weights: w), 1, accuracy: 1e-6,
                       "right, but it never ended: accuracy alone")
        // The default weights are RL's reward before this: 1 right, 0 wrong.
        XCTAssertEqual(taskReward(ex, tokens: rightAndWellFormed, ended: true, tok: tok, weights: RewardWeights()), 1)
        XCTAssertEqual(taskReward(ex, tokens: wrongButWellFormed, ended: true, tok: tok, weights: RewardWeights()), 0)
        XCTAssertEqual(
            taskReward(ex, tokens: wrongButWellFormed, ended: true, tok: tok, weights: RewardWeights(accuracy: 0, format: 1)), 1)
    }

    func testRejectionSamplingKeepsTheRightAnswersInOrder() {
        var ex = generateTask(.arithmetic, count: 1, seed: 5, words: words)[0]
        ex.answer = "7"
        let answers = [sampled("#### 8"), sampled("#### 7"), sampled("seven"), sampled("x\n#### 7.0")]
        let kept = gradedRight(ex, answers: answers, ended: [true, false, true, true], tok: tok)
        XCTAssertEqual(kept.answers.map { $0.map(\.id) }, [answers[1], answers[3]].map { $0.map(\.id) })
        XCTAssertEqual(kept.ended, [false, true])
        XCTAssertTrue(gradedRight(ex, answers: [answers[0]], ended: [true], tok: tok).answers.isEmpty)
    }

    func testEasyArithmeticUsesTheQuestionsNumbersInOrder() {
        func numbers(_ s: String) -> [String] { s.split { !$0.isNumber }.map(String.init) }
        let easy = generateTask(.arithmetic, count: 200, seed: 9, words: words, easy: true)
        for ex in easy {
            let expr = ex.conversation.messages[1].parts.first { $0.type == .python }!.text
            XCTAssertEqual(numbers(expr), numbers(ex.conversation.messages[0].text), ex.conversation.messages[0].text)
        }
        // The full set has problems where that fails: a distracting number, or another order.
        let all = generateTask(.arithmetic, count: 200, seed: 9, words: words)
        XCTAssertTrue(all.contains { ex in
            numbers(ex.conversation.messages[1].parts.first { $0.type == .python }!.text) != numbers(ex.conversation.messages[0].text)
        })
    }

    func testVoteSizesAndVotesOverTheFirstSamples() throws {
        XCTAssertEqual(voteSizes(8), [4, 8])
        XCTAssertEqual(voteSizes(16), [4, 8, 16])
        XCTAssertEqual(voteSizes(4), [4])
        XCTAssertEqual(voteSizes(6), [4, 6])
        XCTAssertEqual(voteSizes(2), [2])
        // maj@4 of eight samples votes with the first four: here they say 5, the last four say 6.
        var ex = generateTask(.arithmetic, count: 1, seed: 5, words: words)[0]
        ex.answer = "5"
        let texts = ["#### 5", "#### 5", "#### 6", "#### 5", "#### 6", "#### 6", "#### 6", "#### 6"]
        XCTAssertTrue(majorityIsRight(ex, Array(texts.prefix(4))))
        XCTAssertFalse(majorityIsRight(ex, texts))
        XCTAssertEqual(majorityRight([ex, ex], [texts, Array(texts.reversed())], sizes: voteSizes(8)), [1, 0])
    }
}
