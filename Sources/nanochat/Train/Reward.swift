// The rule-based rewards of RL (DeepSeek-R1-Zero, 2025: an accuracy reward and a format reward, no reward
// model). Accuracy: the task's grader accepts the final answer. Format: the answer is well formed whether
// or not it is right: it ends with one line "#### <answer>" the grader can read, then <|assistant_end|>,
// and (arithmetic) every calculator call is closed and gets a number back. The format reward is what a
// model that never answers right can still learn from: the signal `chat-rl --format-reward` adds when RL
// starts from a model that has not been through SFT (Lessons/14-reasoning.md).

import Foundation

/// The weights of the two rewards (`chat-rl --accuracy-reward A --format-reward F`):
/// reward = A·(1 if right) + F·formatScore.
struct RewardWeights: Equatable {
    var accuracy: Float = 1
    var format: Float = 0
}

/// What the format checks saw in one sampled answer.
struct AnswerFormat: Equatable {
    /// The answer ended with <|assistant_end|> right after one line "#### <answer>" that the task's grader
    /// can read (votingKey: a number for arithmetic).
    var ending: Bool
    /// At least one calculator call, and every one closed with <|python_end|> and answered with a number
    /// (not "error: ...").
    var toolCall: Bool
}

/// Checks the format of a sampled answer: its tokens as the Engine returned them (the calculator's output
/// included, marked forced) and whether it ended by choosing <|assistant_end|>.
func answerFormat(_ kind: TaskKind, tokens: [GeneratedToken], ended: Bool, tok: Tokenizer) -> AnswerFormat {
    let ids = tokens.map(\.id)
    let text = answerText(tok, tokens)
    // The last line holds the final answer; nothing may follow it.
    let lastLine = text.split(separator: "\n", omittingEmptySubsequences: false).last.map(String.init) ?? ""
    let ending =
        ended && lastLine.trimmingCharacters(in: .whitespaces).hasPrefix("####")
        && votingKey(kind, lastLine) != nil
    let start = tok.id(.pythonStart), end = tok.id(.pythonEnd)
    let outStart = tok.id(.outputStart), outEnd = tok.id(.outputEnd)
    var calls = 0, wellFormed = true, i = 0
    while i < ids.count {
        defer { i += 1 }
        guard ids[i] == start else { continue }
        calls += 1
        // <|python_start|> expression <|python_end|> <|output_start|> result <|output_end|>
        guard let close = ids[(i + 1)...].firstIndex(of: end), close + 1 < ids.count, ids[close + 1] == outStart,
            let done = ids[(close + 2)...].firstIndex(of: outEnd)
        else {
            wellFormed = false
            break
        }
        let result = tok.decode(ids[(close + 2)..<done])
        if Double(result.replacingOccurrences(of: ",", with: "")) == nil { wellFormed = false }
        i = done
    }
    return AnswerFormat(ending: ending, toolCall: calls > 0 && wellFormed)
}

/// The format reward in [0, 1]: arithmetic, half for the ending and half for the calculator call; the
/// other tasks (no calculator), the ending alone.
func formatScore(_ kind: TaskKind, _ f: AnswerFormat) -> Float {
    kind == .arithmetic ? (f.ending ? 0.5 : 0) + (f.toolCall ? 0.5 : 0) : (f.ending ? 1 : 0)
}

/// The reward of one sampled answer under `weights`.
func taskReward(
    _ example: TaskExample, tokens: [GeneratedToken], ended: Bool, tok: Tokenizer, weights: RewardWeights
) -> Float {
    let right: Float = grade(example, response: answerText(tok, tokens)) ? 1 : 0
    guard weights.format != 0 else { return weights.accuracy * right }
    let f = answerFormat(example.kind, tokens: tokens, ended: ended, tok: tok)
    return weights.accuracy * right + weights.format * formatScore(example.kind, f)
}
