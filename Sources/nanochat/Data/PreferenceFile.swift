// Preference pairs in JSONL, in the conversational format TRL's DPOTrainer and RewardTrainer read
// (Anthropic's HH-RLHF in messages form): one object per line,
//   {"prompt": [messages ending with a user turn], "chosen": [one assistant message], "rejected": [one]}
// Messages are those of conversation files (Data/ConversationFile.swift): an assistant's content may be a
// list of parts with calculator calls. Errors name the file, the line and what is wrong.

import Foundation

struct PreferencePair: Equatable {
    var prompt: [Message]  // user, assistant, ..., user
    var chosen: Message  // the preferred assistant answer
    var rejected: Message  // the other one

    var chosenConversation: Conversation { Conversation(messages: prompt + [chosen]) }
    var rejectedConversation: Conversation { Conversation(messages: prompt + [rejected]) }
}

enum PreferenceFile {
    static func parse(_ text: String, name: String) throws -> [PreferencePair] {
        try ConversationFile.lines(text).map { try parseLine($0.text, where: "\(name) line \($0.number)") }
    }

    static func load(_ path: String) throws -> [PreferencePair] {
        try parse(try ConversationFile.text(path, what: "preference file"), name: path)
    }

    static func parseLine(_ line: String, where w: String) throws -> PreferencePair {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw UserError("\(w): not a JSON object")
        }
        func list(_ key: String) throws -> [[String: Any]] {
            guard let raw = obj[key] as? [[String: Any]], !raw.isEmpty else {
                throw UserError(
                    "\(w): needs \"\(key)\": a non-empty list of {\"role\", \"content\"} messages (the format is "
                        + "{\"prompt\": [...], \"chosen\": [{\"role\": \"assistant\", ...}], \"rejected\": [...]})")
            }
            return raw
        }
        let prompt = try list("prompt"), chosen = try list("chosen"), rejected = try list("rejected")
        guard (prompt.last?["role"] as? String) == Role.user.rawValue else {
            throw UserError("\(w): the prompt must end with a user message (the answers to compare come after it)")
        }
        func answer(_ key: String, _ raw: [[String: Any]]) throws -> Message {
            guard raw.count == 1, (raw[0]["role"] as? String) == Role.assistant.rawValue else {
                throw UserError("\(w): \"\(key)\" must hold exactly one message, from the assistant")
            }
            // Checked as the conversation it completes (roles, content, parts).
            return try ConversationFile.messages(prompt + raw, where: "\(w), \(key)").last!
        }
        let messages = try ConversationFile.messages(prompt, where: "\(w), prompt")
        return PreferencePair(
            prompt: messages, chosen: try answer("chosen", chosen), rejected: try answer("rejected", rejected))
    }

    /// One pair as a JSONL line.
    static func line(_ p: PreferencePair) throws -> String {
        let obj: [String: Any] = [
            "prompt": ConversationFile.objects(p.prompt), "chosen": ConversationFile.objects([p.chosen]),
            "rejected": ConversationFile.objects([p.rejected]),
        ]
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
