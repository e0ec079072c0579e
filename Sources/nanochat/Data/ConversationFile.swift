// Conversations in JSONL (DESIGN.md §4): one {"messages": [...]} object per line; a message's content is a
// string, or (for the assistant) a list of parts {"type": "text"|"python"|"python_output", "text": ...}.
// Errors name the file, the line and what is wrong, so a hand-edited file is easy to fix.

import Foundation

enum ConversationFile {
    /// Parses JSONL text; `name` is used in error messages.
    static func parse(_ text: String, name: String) throws -> [Conversation] {
        try lines(text).map { try parseLine($0.text, where: "\(name) line \($0.number)") }
    }

    /// The non-blank lines of a JSONL text with their 1-based line numbers. "\r\n" is one Character in
    /// Swift: it is split on too, so files with Windows line ends load.
    static func lines(_ text: String) -> [(number: Int, text: String)] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated().compactMap { k, line in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return trimmed.isEmpty ? nil : (k + 1, trimmed)
            }
    }

    /// A file's UTF-8 text, or an error that names it.
    static func text(_ path: String, what: String) throws -> String {
        let data = try readFile(path, what: what)
        guard let text = String(data: data, encoding: .utf8) else { throw UserError("\(path) is not UTF-8 text") }
        return text
    }

    static func load(_ path: String) throws -> [Conversation] {
        try parse(try text(path, what: "conversation file"), name: path)
    }

    static func parseLine(_ line: String, where w: String) throws -> Conversation {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw UserError("\(w): not a JSON object")
        }
        guard let raw = obj["messages"] as? [[String: Any]], !raw.isEmpty else {
            throw UserError("\(w): needs a non-empty \"messages\" list of {\"role\", \"content\"} objects")
        }
        return Conversation(messages: try messages(raw, where: w))
    }

    /// A list of {"role", "content"} objects as messages, checked: known roles, content a string (or, for the
    /// assistant, a list of parts), nothing empty, roles alternating from the user (after an optional system).
    static func messages(_ raw: [[String: Any]], where w: String) throws -> [Message] {
        var messages: [Message] = []
        for (i, m) in raw.enumerated() {
            let at = "\(w), message \(i + 1)"
            guard let roleName = m["role"] as? String else { throw UserError("\(at): missing \"role\"") }
            guard let role = Role(rawValue: roleName) else {
                throw UserError("\(at): unknown role \"\(roleName)\" (use system, user or assistant)")
            }
            var parts: [MessagePart]
            if let s = m["content"] as? String {
                parts = [MessagePart(type: .text, text: s)]
            } else if let list = m["content"] as? [[String: Any]], role == .assistant {
                parts = try list.enumerated().map { j, p in
                    guard let t = p["type"] as? String, let kind = MessagePart.Kind(rawValue: t),
                        let text = p["text"] as? String
                    else {
                        throw UserError(
                            "\(at), part \(j + 1): needs \"type\" (text, python or python_output) and \"text\"")
                    }
                    return MessagePart(type: kind, text: text)
                }
            } else {
                throw UserError(
                    "\(at): \"content\" must be a string" + (role == .assistant ? " or a list of parts" : ""))
            }
            guard parts.contains(where: { !$0.text.isEmpty }) else { throw UserError("\(at): empty content") }
            messages.append(Message(role, parts: parts))
        }
        // Roles: optional system first, then user, assistant, user, ...
        let body = messages.first?.role == .system ? Array(messages.dropFirst()) : messages
        guard !body.isEmpty else { throw UserError("\(w): a system message alone is not a conversation") }
        for (i, m) in body.enumerated() where m.role != (i % 2 == 0 ? Role.user : .assistant) {
            throw UserError(
                "\(w): roles must alternate user, assistant, user, ... (message "
                    + "\(i + (messages.count - body.count) + 1) is \(m.role.rawValue))"
            )
        }
        return messages
    }

    /// Messages as the JSON objects of a JSONL line (parts written as a list only when there is more than text).
    static func objects(_ messages: [Message]) -> [[String: Any]] {
        messages.map { m in
            if m.parts.count == 1 && m.parts[0].type == .text {
                return ["role": m.role.rawValue, "content": m.parts[0].text]
            }
            return ["role": m.role.rawValue, "content": m.parts.map { ["type": $0.type.rawValue, "text": $0.text] }]
        }
    }

    /// One conversation as a JSONL line (parts written as a list only when there is more than plain text).
    static func line(_ c: Conversation) throws -> String {
        let data = try JSONSerialization.data(
            withJSONObject: ["messages": objects(c.messages)], options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
