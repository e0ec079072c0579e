// Tests for the chat format: ids and mask for every kind of part, the system-message fold, role
// alternation errors, cropping, and the completion prompt.

import XCTest
@testable import nanochat

final class ChatFormatTests: XCTestCase {
    let tok = Fixtures.smallTokenizer

    func testMaskForEveryPartType() throws {
        let conv = Conversation(messages: [
            Message(.system, "Be brief."),
            Message(.user, "What is 2+3?"),
            Message(.assistant, parts: [
                MessagePart(type: .text, text: "Let me compute. "),
                MessagePart(type: .python, text: "2+3"),
                MessagePart(type: .python_output, text: "5"),
                MessagePart(type: .text, text: "The answer is 5."),
            ]),
            Message(.user, "Thanks"),
            Message(.assistant, "You are welcome."),
        ])
        let (ids, mask) = try tok.renderConversation(conv)
        let s = tok.id
        // Build the expected sequence part by part: (tokens, trained?)
        var expected: [(Int, UInt8)] = []
        func add(_ t: [Int], _ m: UInt8) { expected += t.map { ($0, m) } }
        add([tok.bosId, s(.userStart)], 0)
        add(tok.encode("Be brief.\n\nWhat is 2+3?"), 0)
        add([s(.userEnd), s(.assistantStart)], 0)
        add(tok.encode("Let me compute. "), 1)
        add([s(.pythonStart)] + tok.encode("2+3") + [s(.pythonEnd)], 1)
        add([s(.outputStart)] + tok.encode("5") + [s(.outputEnd)], 0)
        add(tok.encode("The answer is 5.") + [s(.assistantEnd)], 1)
        add([s(.userStart)] + tok.encode("Thanks") + [s(.userEnd), s(.assistantStart)], 0)
        add(tok.encode("You are welcome.") + [s(.assistantEnd)], 1)
        XCTAssertEqual(ids, expected.map { $0.0 })
        XCTAssertEqual(mask, expected.map { $0.1 })
    }

    func testRolesMustAlternate() {
        assertUserError(["message 2", "alternate"]) {
            _ = try tok.renderConversation(Conversation(messages: [Message(.user, "a"), Message(.user, "b")]))
        }
        assertUserError(["message 1", "'assistant'"]) {
            _ = try tok.renderConversation(Conversation(messages: [Message(.assistant, "a")]))
        }
        assertUserError(["system message must be followed by a user"]) {
            _ = try tok.renderConversation(Conversation(messages: [Message(.system, "a"), Message(.assistant, "b")]))
        }
        assertUserError(["message 3", "'system'"]) {
            _ = try tok.renderConversation(Conversation(messages: [Message(.user, "a"), Message(.assistant, "b"), Message(.system, "c")]))
        }
        assertUserError(["at least one message"]) { _ = try tok.renderConversation(Conversation(messages: [])) }
        assertUserError(["user message must be plain text"]) {
            _ = try tok.renderConversation(Conversation(messages: [Message(.user, parts: [MessagePart(type: .python, text: "1+1")])]))
        }
    }

    func testCropKeepsTheStart() throws {
        let conv = Conversation(messages: [Message(.user, String(repeating: "word ", count: 200)), Message(.assistant, "ok")])
        let full = try tok.renderConversation(conv)
        let cropped = try tok.renderConversation(conv, maxTokens: 50)
        XCTAssertEqual(cropped.ids.count, 50)
        XCTAssertEqual(cropped.ids, Array(full.ids.prefix(50)))
        XCTAssertEqual(cropped.mask, Array(full.mask.prefix(50)))
    }

    func testRenderForCompletion() throws {
        let conv = Conversation(messages: [Message(.user, "Hi"), Message(.assistant, "Hello")])
        let prompt = try tok.renderForCompletion(conv)
        let s = tok.id
        XCTAssertEqual(prompt, [tok.bosId, s(.userStart)] + tok.encode("Hi") + [s(.userEnd), s(.assistantStart)])
        assertUserError(["must end with a user message"]) {
            _ = try tok.renderForCompletion(Conversation(messages: [Message(.system, "x")]))
        }
    }
}
