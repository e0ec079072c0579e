// Preference pairs as training rows, and `nanochat pairs`: on-policy pairs made by sampling a checkpoint on
// the graded tasks (Lessons/12-preferences.md). The reward model and DPO (Train/PreferenceTuning.swift)
// both read pairs through PairRows.
//
// Making pairs: for each prompt the model samples `samples` answers (temperature 1, calculator live); the
// grader marks each right or wrong. A prompt with at least one right and one wrong answer that ended gives
// one pair: its first right answer (chosen) against its first wrong one (rejected). Prompts whose answers
// were all right or all wrong give no pair (there is no preference to learn from them), nor do answers
// cut off by the token budget. So pairs come from the prompts where the model is unsure, as in
// on-policy preference data (the RLHF papers sample pairs from the SFT policy).

import Foundation

extension Tokenizer {
    /// Sampled answer tokens as message parts: text, calculator calls (<|python_start|> ... <|python_end|>)
    /// and the calculator's outputs (<|output_start|> ... <|output_end|>); <|assistant_end|> is dropped.
    func messageParts(_ ids: [Int]) -> [MessagePart] {
        var parts: [MessagePart] = [], kind = MessagePart.Kind.text, current: [Int] = []
        func close() {
            let text = decode(current)
            if !text.isEmpty { parts.append(MessagePart(type: kind, text: text)) }
            current = []
        }
        for t in ids {
            switch t {
            case id(.pythonStart), id(.outputStart):
                close()
                kind = t == id(.pythonStart) ? .python : .python_output
            case id(.pythonEnd), id(.outputEnd):
                close()
                kind = .text
            case _ where isSpecial(t): continue
            default: current.append(t)
            }
        }
        close()
        return parts.isEmpty ? [MessagePart(type: .text, text: " ")] : parts
    }
}

/// One pair rendered for training: row 0 the chosen conversation, row 1 the rejected one, each as the whole
/// token sequence (`ids`) and as next-token rows (`inputs`/`targets`, T = longest − 1, padded) whose `mask`
/// marks the answer's trained tokens (the last assistant message, its calculator calls and
/// <|assistant_end|>; not the prompt, not calculator outputs).
struct PairRows {
    var ids: [[Int]]
    var inputs: [Int32] = [], targets: [Int32] = [], mask: [Bool] = []
    var T = 0

    /// nil when the longer conversation does not fit in `contextLength` tokens.
    init?(_ pair: PreferencePair, tokenizer tok: Tokenizer, contextLength: Int) throws {
        let promptLen = try tok.renderForCompletion(Conversation(messages: pair.prompt)).count
        let rendered = try [pair.chosenConversation, pair.rejectedConversation].map {
            try tok.renderConversation($0, maxTokens: Int.max)
        }
        ids = rendered.map(\.ids)
        let longest = ids.map(\.count).max()!
        guard longest <= contextLength else { return nil }
        T = longest - 1
        for r in rendered {
            for t in 0..<T {
                let has = t + 1 < r.ids.count
                inputs.append(Int32(t < r.ids.count ? r.ids[t] : tok.bosId))
                targets.append(Int32(has ? r.ids[t + 1] : tok.bosId))
                mask.append(has && t + 1 >= promptLen && r.mask[t + 1] == 1)
            }
        }
    }

    /// Σ log p over each row's answer tokens under `model` (one forward, no gradient).
    func sequenceLogProbs(_ model: GPT) -> [Double] {
        let lp = model.logProbs(inputs, targets, B: 2, T: T)
        return (0..<2).map { b in (0..<T).reduce(0.0) { $0 + (mask[b * T + $1] ? Double(lp[b * T + $1]) : 0) } }
    }
}

/// Options of `nanochat pairs`.
struct PairOptions {
    var tasks: [TaskKind] = TaskKind.allCases
    var prompts = 64  // per task
    var samples = 4
    var maxTokens = 96
    var temperature: Float = 1
    var seed: UInt64 = 5000  // prompt seed: chat-eval's test sets use 1000, validation slices 2000
}

struct PairStats {
    var prompts = 0, pairs = 0, allRight = 0, allWrong = 0, unfinished = 0
}

/// Samples `o.samples` answers to `o.prompts` training prompts of each task and pairs a right answer with a
/// wrong one (see the top of this file). Progress goes to `progress` when given.
func makePairs(
    engine: Engine, tokenizer tok: Tokenizer, words: TaskWords, options o: PairOptions,
    progress: ((Int, Int) -> Void)? = nil
) throws -> (pairs: [PreferencePair], stats: PairStats) {
    var pairs: [PreferencePair] = [], stats = PairStats()
    let total = o.tasks.count * o.prompts
    for (f, kind) in o.tasks.enumerated() {
        for (k, ex) in generateTask(kind, count: o.prompts, seed: o.seed, words: words).enumerated() {
            let prompt = try ex.prompt(tok)
            let opts = SamplingOptions(
                temperature: o.temperature, topK: 0, seed: o.seed &+ UInt64(f * 100_000 + k), maxTokens: o.maxTokens)
            let answers = engine.generateBatch(prompt: prompt, samples: o.samples, options: opts)
            let ended = engine.lastEnded
            stats.prompts += 1
            progress?(stats.prompts, total)
            let right = answers.map { grade(ex, response: answerText(tok, $0)) }
            if right.allSatisfy({ $0 }) { stats.allRight += 1 }
            if right.allSatisfy({ !$0 }) { stats.allWrong += 1 }
            guard let c = answers.indices.first(where: { right[$0] && ended[$0] }),
                let r = answers.indices.first(where: { !right[$0] && ended[$0] })
            else {
                if right.contains(true) && right.contains(false) { stats.unfinished += 1 }
                continue
            }
            let message = { (i: Int) in Message(.assistant, parts: tok.messageParts(answers[i].map(\.id))) }
            pairs.append(
                PreferencePair(
                    prompt: Array(ex.conversation.messages.dropLast()), chosen: message(c), rejected: message(r)))
            stats.pairs += 1
        }
    }
    return (pairs, stats)
}
