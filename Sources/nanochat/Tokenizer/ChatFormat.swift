// The chat format: a conversation rendered to token ids plus a mask of the tokens the assistant is
// trained on (1) or not (0), as nanochat's render_conversation does:
//   <|bos|> <|user_start|> user text <|user_end|> <|assistant_start|> assistant text <|assistant_end|> ...
// mask 0: bos, user turns, <|assistant_start|>, tool outputs (<|output_start|> ... <|output_end|>);
// mask 1: the assistant's text, its python calls (<|python_start|> ... <|python_end|>) and <|assistant_end|>.
// A system message is folded into the first user turn. Roles must alternate user, assistant, user, ...

enum Role: String, Codable { case system, user, assistant }

/// One part of an assistant message: plain text, a calculator call, or the calculator's output.
struct MessagePart: Codable, Equatable {
    enum Kind: String, Codable { case text, python, python_output }
    var type: Kind
    var text: String
}

struct Message: Equatable {
    var role: Role
    var parts: [MessagePart]  // a plain string content is one .text part

    init(_ role: Role, _ text: String) {
        self.role = role
        self.parts = [MessagePart(type: .text, text: text)]
    }
    init(_ role: Role, parts: [MessagePart]) {
        self.role = role
        self.parts = parts
    }

    var text: String { parts.map(\.text).joined() }
}

struct Conversation: Equatable {
    var messages: [Message]
}

extension Tokenizer {
    /// Ids and mask of a whole conversation, cropped to `maxTokens` (cropping keeps the start: a training
    /// row sees the beginning of a long conversation rather than losing it).
    func renderConversation(_ conversation: Conversation, maxTokens: Int = 2048) throws -> (ids: [Int], mask: [UInt8]) {
        var messages = conversation.messages
        if let first = messages.first, first.role == .system {
            guard messages.count >= 2, messages[1].role == .user else {
                throw UserError("a system message must be followed by a user message")
            }
            let merged = first.text + "\n\n" + messages[1].text
            messages.removeFirst()
            messages[0] = Message(.user, merged)
        }
        guard !messages.isEmpty else { throw UserError("a conversation needs at least one message") }
        var ids: [Int] = [], mask: [UInt8] = []
        func add(_ tokens: [Int], _ m: UInt8) {
            ids += tokens
            mask += [UInt8](repeating: m, count: tokens.count)
        }
        add([bosId], 0)
        for (i, message) in messages.enumerated() {
            let expected: Role = i % 2 == 0 ? .user : .assistant
            guard message.role == expected else {
                throw UserError(
                    "message \(i + 1) has role '\(message.role.rawValue)' but roles must alternate user, assistant, "
                        + "user, ... (a system message may come first)"
                )
            }
            switch message.role {
            case .user:
                guard message.parts.allSatisfy({ $0.type == .text }) else {
                    throw UserError("message \(i + 1): a user message must be plain text")
                }
                add([id(.userStart)], 0)
                add(encode(message.text), 0)
                add([id(.userEnd)], 0)
            case .assistant:
                add([id(.assistantStart)], 0)
                for part in message.parts {
                    switch part.type {
                    case .text: add(encode(part.text), 1)
                    case .python:
                        add([id(.pythonStart)], 1)
                        add(encode(part.text), 1)
                        add([id(.pythonEnd)], 1)
                    case .python_output:
                        add([id(.outputStart)], 0)
                        add(encode(part.text), 0)
                        add([id(.outputEnd)], 0)
                    }
                }
                add([id(.assistantEnd)], 1)
            case .system:
                throw UserError("message \(i + 1): a system message may only come first")
            }
        }
        if ids.count > maxTokens {
            ids.removeLast(ids.count - maxTokens)
            mask.removeLast(mask.count - maxTokens)
        }
        return (ids, mask)
    }

    /// The prompt for the assistant's next reply: the conversation without its last assistant message
    /// (if it ends with one), then <|assistant_start|>.
    func renderForCompletion(_ conversation: Conversation) throws -> [Int] {
        var c = conversation
        if c.messages.last?.role == .assistant { c.messages.removeLast() }
        guard c.messages.last?.role == .user else {
            throw UserError("a prompt for completion must end with a user message")
        }
        var ids = try renderConversation(c, maxTokens: Int.max).ids
        ids.append(id(.assistantStart))
        return ids
    }
}
