// A conversation with the model: the messages so far, their tokens (kept in the KV cache between turns,
// so each turn only feeds the new user message), streaming of the answer as text, and cropping of the
// oldest turns when the conversation outgrows the model's context (nanochat: scripts/chat_cli.py).

final class ChatSession {
    let engine: Engine
    let tok: Tokenizer
    var options: SamplingOptions
    var system: String?
    private(set) var messages: [Message] = []
    /// The conversation's tokens so far (what the cache holds, plus <|assistant_end|> of the last answer).
    private(set) var history: [Int] = []
    /// The last exchange's tokens, for /tokens.
    private(set) var lastExchange: [Int] = []
    /// Tokens kept free for the answer when deciding whether to crop.
    let answerRoom: Int

    init(engine: Engine, options: SamplingOptions, system: String? = nil) {
        self.engine = engine
        tok = engine.tok
        self.options = options
        self.system = system
        answerRoom = min(options.maxTokens, engine.contextLength / 2)
    }

    func reset() {
        messages = []
        history = []
        lastExchange = []
        engine.reset()
    }

    /// Answers `text`, streaming pieces to `onText(piece, isTool)`; `onText` returning false stops.
    /// Returns the generated tokens and how many old messages were dropped to make room.
    func reply(_ text: String, onText: (String, Bool) -> Bool) throws -> (tokens: [GeneratedToken], dropped: Int) {
        var dropped = 0
        let userTokens = [tok.id(.userStart)] + tok.encode(text) + [tok.id(.userEnd), tok.id(.assistantStart)]
        var prompt: [Int]
        if history.isEmpty {
            prompt = try renderPrompt(messages + [Message(.user, text)])
        } else {
            prompt = history + userTokens
        }
        if prompt.count + answerRoom > engine.contextLength {
            // Drop the oldest (user, assistant) pairs until the prompt fits; the system part stays.
            var kept = messages
            while prompt.count + answerRoom > engine.contextLength && kept.count >= 2 {
                kept.removeFirst(2)
                dropped += 2
                prompt = try renderPrompt(kept + [Message(.user, text)])
            }
            messages = kept
            guard prompt.count + answerRoom <= engine.contextLength else {
                throw UserError(
                    "this message alone is \(prompt.count) tokens; with \(answerRoom) tokens for the answer it does "
                        + "not fit the model's context of \(engine.contextLength). Send something shorter."
                )
            }
        }
        var stream = UTF8Stream()
        var inTool = false
        let toolOpen: Set<Int> = [tok.id(.pythonStart), tok.id(.outputStart)]
        let toolClose: Set<Int> = [tok.id(.pythonEnd), tok.id(.outputEnd)]
        var parts: [MessagePart] = [], current = MessagePart(type: .text, text: "")
        var currentIds: [Int] = []
        func closePart() {
            current.text = tok.decode(currentIds)
            if !current.text.isEmpty || current.type != .text { parts.append(current) }
            currentIds = []
        }
        let out = engine.generate(prompt: prompt, options: options) { t in
            if toolOpen.contains(t.id) {
                let flushed = stream.flush()
                if !flushed.isEmpty && !onText(flushed, false) { return false }
                closePart()
                current = MessagePart(type: t.id == tok.id(.pythonStart) ? .python : .python_output, text: "")
                inTool = true
                return onText(t.id == tok.id(.pythonStart) ? "[calc " : " = ", true)
            }
            if toolClose.contains(t.id) {
                let flushed = stream.flush()
                closePart()
                current = MessagePart(type: .text, text: "")
                inTool = false
                return onText(flushed + (t.id == tok.id(.outputEnd) ? "]" : ""), true)
            }
            currentIds.append(t.id)
            let piece = stream.push(tok.isSpecial(t.id) ? [] : tok.vocab[t.id])
            return piece.isEmpty || onText(piece, inTool)
        }
        let rest = stream.flush()
        if !rest.isEmpty { _ = onText(rest, inTool) }
        closePart()
        let answer = out.map(\.id)
        lastExchange = Array(prompt.suffix(from: history.isEmpty ? 0 : min(history.count, prompt.count))) + answer
        history = prompt + answer + [tok.id(.assistantEnd)]
        messages += [
            Message(.user, text),
            Message(.assistant, parts: parts.isEmpty ? [MessagePart(type: .text, text: "")] : parts),
        ]
        return (out, dropped)
    }

    /// The tokens that ask for the assistant's reply to `msgs` (system part folded into the first turn).
    private func renderPrompt(_ msgs: [Message]) throws -> [Int] {
        var all = msgs
        if let system { all.insert(Message(.system, system), at: 0) }
        return try tok.renderForCompletion(Conversation(messages: all))
    }
}
