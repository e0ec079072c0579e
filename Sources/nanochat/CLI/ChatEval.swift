// `nanochat chat-eval`: accuracy on each task family's held-out set (nanochat: scripts/chat_eval.py).
// Generative: greedy answers through the Engine (with the calculator), graded by each task's grader.
// Categorical (multiple choice): the option letter with the highest logit after the model's own "####".
// --pass-k: pass@1..k of sampled arithmetic answers; --votes: majority voting over sampled answers (maj@N,
// beside sampled pass@1 and pass@N); --show-wrong: the answers it got wrong.

import ArgumentParser
import Foundation

struct EvalRow {
    var task: String
    var correct: Int
    var total: Int
    var chance: Double
    var note: String = ""
    var wrong: [(question: String, answer: String)] = []  // the questions it got wrong, with its answers
}

/// Evaluates one model (the engine's) on every task; returns the table's rows.
func evaluateTasks(
    engine: Engine, words: TaskWords, count: Int, maxTokens: Int, kinds: [TaskKind] = TaskKind.allCases,
    progress: (String) -> Void
) throws -> [EvalRow] {
    let model = engine.model, tok = engine.tok
    let options = SamplingOptions(temperature: 0, topK: 0, seed: 0, maxTokens: maxTokens)
    let pythonStart = tok.id(.pythonStart)
    var rows: [EvalRow] = []
    for kind in kinds {
        var correct = 0, usedTool = 0
        let tests = testSet(kind, words: words, count: count)
        var texts: [String] = [], wrong: [(String, String)] = []
        for ex in tests {
            let prompt = try ex.prompt(tok)
            let out = engine.generate(prompt: prompt, options: options)
            if out.contains(where: { $0.id == pythonStart }) { usedTool += 1 }
            let text = answerText(tok, out)
            texts.append(text)
            if grade(ex, response: text) {
                correct += 1
            } else {
                wrong.append((ex.conversation.messages[0].text, text))
            }
        }
        rows.append(
            EvalRow(
                task: kind.rawValue, correct: correct, total: tests.count, chance: chanceLevel(kind, tests),
                note: kind == .arithmetic ? "calculator used in \(usedTool)/\(tests.count)" : "", wrong: wrong))
        progress(String(format: "chat-eval: %@ %d/%d", kind.rawValue, correct, tests.count))
        let letters = choiceLetters.map { tok.encode(" " + $0) }
        if kind == .choice && !letters.allSatisfy({ $0.count == 1 }) {
            // A tokenizer trained on text without capitals has no " A" token: no letter logits to compare.
            rows[rows.count - 1].note =
                "categorical scoring skipped: \" A\" .. \" D\" are not single tokens of this tokenizer"
        } else if kind == .choice {
            // Categorical: let the model reason greedily up to its "####", then compare the logits of the
            // option letters there (nanochat's ChatCORE compares letter logits; ours come after the reasoning).
            var right = 0
            for (ex, text) in zip(tests, texts) {
                guard let r = text.range(of: "####") else { continue }
                let prompt = try ex.prompt(tok)
                let p = (prompt + tok.encode(String(text[..<r.upperBound]))).suffix(model.config.sequenceLen).map {
                    Int32($0)
                }
                model.forward(Array(p), nil, B: 1, T: p.count)
                let logits = model.lastLogits + (p.count - 1) * model.config.vocabSize
                let best = letters.indices.max { logits[letters[$0][0]] < logits[letters[$1][0]] }!
                if choiceLetters[best] == ex.answer { right += 1 }
            }
            rows.append(
                EvalRow(
                    task: "choice (categorical)", correct: right, total: tests.count, chance: chanceLevel(kind, tests)))
        }
    }
    return rows
}

/// pass@k for k = 1...n from n samples per problem of which `correct[i]` were right: the unbiased
/// estimator 1 - C(n-c, k)/C(n, k), averaged over problems (Chen et al. 2021, as nanochat's chat_eval).
func passAtK(correct: [Int], n: Int) -> [Double] {
    (1...n).map { k in
        correct.reduce(0.0) { acc, c in
            guard n - c >= k else { return acc + 1 }
            var missAll = 1.0  // C(n-c, k)/C(n, k) as a product
            for i in 0..<k { missAll *= Double(n - c - i) / Double(n - i) }
            return acc + 1 - missAll
        } / Double(max(1, correct.count))
    }
}

/// Samples `n` answers per test problem (temperature 1, top-k 50); returns each problem's answers and which
/// of them were right.
func sampleAnswers(
    model: GPT, tok: Tokenizer, tests: [TaskExample], n: Int, maxTokens: Int, seed: UInt64
) throws -> [(answers: [[GeneratedToken]], right: [Bool])] {
    let engine = Engine(model: model, tokenizer: tok, rows: n)
    return try tests.enumerated().map { i, ex in
        let prompt = try ex.prompt(tok)
        let opts = SamplingOptions(temperature: 1, topK: 50, seed: seed &+ UInt64(i), maxTokens: maxTokens)
        let answers = engine.generateBatch(prompt: prompt, samples: n, options: opts)
        return (answers, answers.map { grade(ex, response: answerText(tok, $0)) })
    }
}

/// Best-of-N (the reward model at inference time): of each problem's sampled answers, the one the reward
/// model scores highest, rendered as reward-train saw its pairs (the question, then the answer as message
/// parts). Returns, per problem, whether that answer was right.
func bestOfN(
    rewardModel: GPT, tok: Tokenizer, tests: [TaskExample], samples: [(answers: [[GeneratedToken]], right: [Bool])]
) throws -> [Bool] {
    try zip(tests, samples).map { ex, s in
        let scores = try s.answers.map { a -> Float in
            let conv = Conversation(messages: [
                ex.conversation.messages[0], Message(.assistant, parts: tok.messageParts(a.map(\.id))),
            ])
            let ids = try tok.renderConversation(conv, maxTokens: rewardModel.config.sequenceLen).ids
            rewardModel.forward(ids.map { Int32($0) }, nil, B: 1, T: ids.count)
            return rewardModel.rewards(at: [ids.count - 1])[0]
        }
        return s.right[scores.indices.max { scores[$0] < scores[$1] }!]
    }
}

/// What guessing scores on a task's test set: the rate of its most common answer (25% for four options,
/// about 0 for open answers; letter counting has a few small answers, so guessing gets far).
func chanceLevel(_ kind: TaskKind, _ tests: [TaskExample]) -> Double {
    var counts: [String: Int] = [:]
    for t in tests { counts[t.answer, default: 0] += 1 }
    return Double(counts.values.max() ?? 0) / Double(max(1, tests.count))
}

struct ChatEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-eval", abstract: "Accuracy on each task's held-out set.")
    @OptionGroup var opts: RunOptions
    @Option(help: "Which stage to evaluate: \(Stage.names).") var source = "sft"
    @Option(help: "Checkpoint folder (overrides --source).") var checkpoint: String?
    @Option(help: "A LoRA adapter folder to put on its base (or on --checkpoint), merged.") var adapter: String?
    @Option(help: "Test examples per task.") var count = 100
    @Option(help: "Most tokens per answer.") var maxTokens = 96
    @Option(help: "Also sample this many answers per arithmetic problem (temperature 1, top-k 50); print pass@1..k.")
    var passK = 0
    @Option(help: "Seed for --pass-k, --votes and --best-of sampling.") var seed: UInt64 = 1
    @Option(help: "Also sample this many answers per question of each task and answer with the most common (maj@N).")
    var votes = 0
    @Option(help: "With --reward-model: also answer each arithmetic problem with the best of this many samples.")
    var bestOf = 0
    @Option(help: "Reward model folder (reward-train's) that picks the best of --best-of samples.")
    var rewardModel: String?
    @Option(help: "Print up to N wrong answers per task, to see what the model gets wrong.") var showWrong = 0
    @Option(help: "Comma-separated tasks to evaluate (arithmetic, spelling, counting, choice), or all.")
    var tasks = "all"

    var kinds: [TaskKind] {
        tasks == "all"
            ? TaskKind.allCases
            : tasks.split(separator: ",").compactMap { TaskKind(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
    }

    func validate() throws {
        guard Stage(rawValue: source) != nil else { throw ValidationError("--source must be \(Stage.names)") }
        try validateCount(count, "--count", 1...100_000)
        try validateCount(maxTokens, "--max-tokens", 1...100_000)
        try validateCount(showWrong, "--show-wrong", 0...100_000)
        let names = tasks.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard tasks == "all" || (!names.isEmpty && names.allSatisfy { TaskKind(rawValue: $0) != nil }) else {
            throw ValidationError(
                "--tasks must be all or a comma-separated list of "
                    + TaskKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard (0...64).contains(passK) else { throw ValidationError("--pass-k must be between 0 and 64") }
        guard (0...64).contains(bestOf) else { throw ValidationError("--best-of must be between 0 and 64") }
        guard votes == 0 || (2...64).contains(votes) else { throw ValidationError("--votes must be between 2 and 64") }
        guard (bestOf > 0) == (rewardModel != nil) else {
            throw ValidationError("--best-of N and --reward-model DIR go together: give both or neither")
        }
    }

    func run() throws {
        try runReportingErrors {
            let loaded = try loadModel(
                out: opts.out, stage: adapter == nil ? Stage(rawValue: source) : nil, checkpoint: checkpoint,
                adapter: adapter, maxBatch: max(1, passK, bestOf, votes))
            let model = loaded.model, tok = loaded.tokenizer, dir = loaded.dir, meta = loaded.meta
            let label = checkpoint == nil && adapter == nil ? source : meta["stage"] ?? source  // eval.jsonl's `source`
            let t0 = now()
            let rows = try evaluateTasks(
                engine: Engine(model: model, tokenizer: tok), words: try TaskWords.load(), count: count,
                maxTokens: maxTokens, kinds: kinds
            ) { _ in }
            print(
                "chat-eval: \(dir) (stage \(meta["stage"] ?? source), step \(meta["step"] ?? "?")), \(count) test "
                    + "examples per task, greedy"
            )
            print("| task | accuracy | guessing (most common answer) | notes |\n|---|---|---|---|")
            var log: [TaskResultRecord] = []
            for r in rows {
                let acc = 100 * Double(r.correct) / Double(r.total)
                print(
                    String(
                        format: "| %@ | %.0f%% (%d/%d) | %.0f%% | %@ |", r.task, acc, r.correct, r.total,
                        100 * r.chance, r.note))
                log.append(TaskResultRecord(source: label, task: r.task, correct: r.correct, total: r.total))
            }
            if passK > 0 {
                let tests = testSet(.arithmetic, words: try TaskWords.load(), count: count)
                let right = try sampleAnswers(
                    model: model, tok: tok, tests: tests, n: passK, maxTokens: maxTokens, seed: seed
                ).map { $0.right.filter { $0 }.count }
                let p = passAtK(correct: right, n: passK)
                print(
                    "arithmetic, \(passK) samples per problem (temperature 1, top-k 50, seed \(seed)): "
                        + p.enumerated().map { String(format: "pass@%d %.1f%%", $0 + 1, 100 * $1) }.joined(
                            separator: ", "))
                log.append(TaskResultRecord(source: label, task: "arithmetic pass@k", seed: seed, pass_at_k: p))
                // The two ends as exact counts, for the report's tables: sampled pass@1 = right samples / all
                // samples, pass@k = problems with at least one right sample / problems.
                log.append(
                    TaskResultRecord(
                        source: label, task: "arithmetic pass@1 (sampled)", correct: right.reduce(0, +),
                        total: passK * tests.count))
                log.append(
                    TaskResultRecord(
                        source: label, task: "arithmetic pass@\(passK)", correct: right.filter { $0 > 0 }.count,
                        total: tests.count))
            }
            if votes > 0 {
                let sizes = voteSizes(votes)
                print(
                    "\nmajority vote over \(votes) samples per question (temperature 1, top-k 50, seed \(seed); "
                        + "maj@k votes with the first k):\n| task | greedy | sampled pass@1 | "
                        + sizes.map { "maj@\($0) | " }.joined() + "pass@\(votes) (oracle) "
                        + "| tokens sampled per question | seconds |\n|---|---|---|"
                        + String(repeating: "---|", count: sizes.count + 3))
                for kind in kinds {
                    let t1 = now()
                    let tests = testSet(kind, words: try TaskWords.load(), count: count)
                    let samples = try sampleAnswers(
                        model: model, tok: tok, tests: tests, n: votes, maxTokens: maxTokens, seed: seed)
                    let texts = samples.map { $0.answers.map { answerText(tok, $0) } }
                    let maj = majorityRight(tests, texts, sizes: sizes)
                    let right = samples.reduce(0) { $0 + $1.right.filter { $0 }.count }
                    let any = samples.filter { $0.right.contains(true) }.count
                    let tokens = samples.reduce(0) { $0 + $1.answers.reduce(0) { $0 + $1.count } }
                    let greedy = rows.first { $0.task == kind.rawValue }!
                    let n = Double(tests.count)
                    print(
                        String(
                            format: "| %@ | %.1f%% | %.1f%% | ", kind.rawValue, 100 * Double(greedy.correct) / n,
                            100 * Double(right) / (n * Double(votes)))
                            + maj.map { String(format: "%.1f%% (%d/%d) | ", 100 * Double($0) / n, $0, tests.count) }
                            .joined()
                            + String(
                                format: "%.1f%% | %.0f | %.0f |", 100 * Double(any) / n, Double(tokens) / n,
                                now() - t1))
                    for (k, m) in zip(sizes, maj) {
                        log.append(
                            TaskResultRecord(
                                source: label, task: "\(kind.rawValue) maj@\(k)", correct: m, total: tests.count,
                                seed: seed))
                    }
                    log.append(
                        TaskResultRecord(
                            source: label, task: "\(kind.rawValue) pass@\(votes)", correct: any, total: tests.count,
                            seed: seed))
                }
            }
            if let rewardModel {
                let (rm, _) = try loadCheckpoint(
                    rewardModel, tokenizer: tok, tokenizerDir: opts.tokenizerDir, maxBatch: 1)
                guard rm.config.scoreHead else {
                    throw UserError(
                        "\(rewardModel) is a language model, not a reward model (train one with reward-train)")
                }
                let tests = testSet(.arithmetic, words: try TaskWords.load(), count: count)
                let samples = try sampleAnswers(
                    model: model, tok: tok, tests: tests, n: bestOf, maxTokens: maxTokens, seed: seed)
                let best = try bestOfN(rewardModel: rm, tok: tok, tests: tests, samples: samples)
                let right = samples.map { $0.right.filter { $0 }.count }
                let p = passAtK(correct: right, n: bestOf)
                let chosen = best.filter { $0 }.count
                print(
                    String(
                        format:
                            "arithmetic, best of %d samples (temperature 1, top-k 50, seed %llu) by the reward model "
                            + "%@: %.1f%% (%d/%d); from the same samples pass@1 %.1f%%, "
                            + "pass@%d (an oracle picking) %.1f%%",
                        bestOf, seed, rewardModel, 100 * Double(chosen) / Double(tests.count), chosen, tests.count,
                        100 * p[0], bestOf, 100 * p[bestOf - 1]))
                log.append(
                    TaskResultRecord(
                        source: label, task: "arithmetic best-of-\(bestOf)", correct: chosen, total: tests.count,
                        seed: seed))
            }
            for r in rows where showWrong > 0 && !r.wrong.isEmpty {
                print("\n\(r.task): \(min(showWrong, r.wrong.count)) of \(r.wrong.count) wrong answers")
                for (q, a) in r.wrong.prefix(showWrong) {
                    print(
                        "  Q: \(q.replacingOccurrences(of: "\n", with: " / "))\n  A: "
                            + "\(a.replacingOccurrences(of: "\n", with: " / "))"
                    )
                }
            }
            print(String(format: "(%.0f s)", now() - t0))
            let writer = try LogWriter(path: dir + "/eval.jsonl", fresh: false)
            for record in log { try writer.write(record) }
        }
    }
}
