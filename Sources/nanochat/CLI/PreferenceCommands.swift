// Preference tuning's commands (Lessons/12-preferences.md):
//   nanochat pairs         on-policy pairs from a checkpoint on the graded tasks (Train/Preference.swift)
//   nanochat reward-train  a Bradley–Terry reward model into OUT/reward (Train/PreferenceTuning.swift)
//   nanochat chat-dpo      DPO from the SFT model into OUT/dpo, with the SFT weights as the frozen reference

import ArgumentParser
import Foundation

struct Pairs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make preference pairs: sample answers to graded prompts, pair a right one with a wrong one.")
    @OptionGroup var opts: RunOptions
    private static let d = PairOptions()
    @Option(help: "Model to sample: a stage (\(Stage.names)) or a checkpoint folder.") var source = "sft"
    @Option(help: "Task families, comma-separated (\(TaskKind.allCases.map(\.rawValue).joined(separator: ", "))).")
    var tasks = d.tasks.map(\.rawValue).joined(separator: ",")
    @Option(help: "Prompts per task.") var prompts = d.prompts
    @Option(help: "Answers sampled per prompt.") var samples = d.samples
    @Option(help: "Most sampled tokens per answer.") var maxTokens = d.maxTokens
    @Option(help: "Sampling temperature.") var temperature = d.temperature
    @Option(help: "Seed of the prompts and the sampling (chat-eval's test sets use 1000, validation 2000).")
    var seed = d.seed
    @Option(help: "Where to write the pairs (JSONL).") var output: String

    func validate() throws {
        _ = try parseKinds(tasks)
        try validateCount(prompts, "--prompts", 1...1_000_000)
        try validateCount(samples, "--samples", 2...1024)
        try validateCount(maxTokens, "--max-tokens", 1...100_000)
        try validateRate(temperature, "--temperature", 0...100)
        guard temperature > 0 else { throw ValidationError("--temperature must be positive: pairs need samples") }
    }

    func run() throws {
        try runReportingErrors {
            var o = PairOptions()
            o.tasks = try parseKinds(tasks)
            o.prompts = prompts
            o.samples = samples
            o.maxTokens = maxTokens
            o.temperature = temperature
            o.seed = seed
            let loaded = try loadModel(
                out: opts.out, stage: Stage(rawValue: source),
                checkpoint: Stage(rawValue: source) == nil ? source : nil,
                maxBatch: samples)
            print(
                "pairs: sampling \(samples) answers to \(prompts) prompts of each of "
                    + "\(o.tasks.map(\.rawValue).joined(separator: ", ")) from \(loaded.description)"
            )
            var progress = ProgressLine()
            let engine = Engine(model: loaded.model, tokenizer: loaded.tokenizer, rows: samples)
            let (pairs, s) = try makePairs(
                engine: engine, tokenizer: loaded.tokenizer, words: try TaskWords.load(), options: o
            ) { done, total in progress.show("prompt \(done)/\(total)", force: done == total) }
            progress.finish()
            try makeFolder(URL(fileURLWithPath: output).deletingLastPathComponent().path)
            let text = try pairs.map { try PreferenceFile.line($0) + "\n" }.joined()
            try writeAtomically(Data(text.utf8), to: output)
            print(
                "pairs: \(s.pairs) pairs from \(s.prompts) prompts into \(output); no pair from \(s.allRight) "
                    + "all-right, \(s.allWrong) all-wrong and \(s.unfinished) prompts whose right or wrong answers "
                    + "all ran out of tokens")
        }
    }
}

/// "arithmetic,spelling" as task kinds, or an error that lists them.
func parseKinds(_ text: String) throws -> [TaskKind] {
    let known = TaskKind.allCases.map(\.rawValue).joined(separator: ", ")
    let kinds = try text.split(separator: ",").map { part -> TaskKind in
        let name = part.trimmingCharacters(in: .whitespaces)
        guard let k = TaskKind(rawValue: name) else {
            throw ValidationError("--tasks: unknown family '\(name)'; the families are \(known)")
        }
        return k
    }
    guard !kinds.isEmpty else { throw ValidationError("--tasks is empty: give some of \(known)") }
    return kinds
}

/// The options reward-train and chat-dpo share.
struct PreferenceRunOptions: ParsableArguments {
    private static let d = PreferenceOptions()
    @Option(help: "Start from (and, for DPO, the frozen reference): a stage or a checkpoint folder.")
    var from = "sft"
    @Option(help: "Training pairs: JSONL files of {prompt, chosen, rejected} (give it more than once to mix).")
    var pairs: [String] = []
    @Option(help: "Held-out pairs to report accuracy on (give it more than once).") var heldOut: [String] = []
    @Option(help: "Optimizer steps (default: 1 epoch for chat-dpo, 2 for reward-train; on --resume, the saved total).")
    var steps: Int?
    @Option(help: "Pairs per optimizer step.") var batch = d.batch
    @Option(
        help: "Multiply every learning rate by this, the SFT rates (default: 0.03 for chat-dpo, 0.3 for reward-train).")
    var lrScale: Float?
    @Option(help: "Held-out accuracy every N steps (and at the end).") var evalEvery = d.evalEvery
    @Option(help: "Save a checkpoint every N steps (and at the end).") var saveEvery = d.saveEvery
    @Option(help: "Seed of the pair order.") var seed = d.seed
    @Flag(help: "Continue from the stage's last checkpoint.") var resume = false
    @Flag(help: "Replace a checkpoint already in the stage's folder.") var fresh = false

    func validate() throws {
        guard !pairs.isEmpty else { throw ValidationError("give at least one --pairs FILE (nanochat pairs makes one)") }
        try validateCount(steps ?? 1, "--steps", 1...10_000_000)
        try validateCount(batch, "--batch", 1...4096)
        try validateRate(lrScale ?? 1, "--lr-scale", 0...100)
        guard (lrScale ?? 1) > 0 else { throw ValidationError("--lr-scale must be positive") }
        guard !(resume && fresh) else { throw ValidationError("give --resume or --fresh, not both") }
    }

    /// Loads the files and runs the stage.
    func run(_ out: String, method: PreferenceMethod, beta: Float, lora: LoRAStart = LoRAStart()) throws {
        let tok = try Tokenizer.load(from: out + "/tokenizer")
        let outDir = out + "/" + method.folder
        var o = PreferenceOptions()
        o.method = method
        let train = try pairs.flatMap { try PreferenceFile.load($0) }
        let epoch = (train.count + batch - 1) / batch
        o.steps = totalSteps(given: steps, default: max(1, method.defaultEpochs * epoch), resume: resume, dir: outDir)
        o.batch = batch
        o.beta = beta
        o.hyper = .scaled(by: lrScale ?? method.defaultLRScale)
        o.evalEvery = evalEvery
        o.saveEvery = saveEvery
        o.seed = seed
        o.resume = resume
        o.fresh = fresh
        o.lora = lora
        let names = heldOut.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
        guard Set(names).count == names.count else {
            throw UserError(
                "--held-out files are reported by name, and two are called the same "
                    + "(\(names.joined(separator: ", "))); rename one"
            )
        }
        let held = try heldOut.map {
            (URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent, try PreferenceFile.load($0))
        }
        let start = lora.adapter ?? Stage(rawValue: from)?.dir(in: out) ?? from
        let r = try preferenceStage(
            tokenizer: tok, from: start, outDir: outDir, train: train, heldOut: held, options: o)
        if let status = r.stopStatus { throw ExitCode(status) }
        let shown = r.heldOut.sorted { $0.key < $1.key }.map {
            String(format: "%@ %.1f%%", $0.key, 100 * $0.value.accuracy)
        }
        print(
            "\(method.command): done, \(r.step) steps"
                + (shown.isEmpty ? "" : "; held-out pair accuracy " + shown.joined(separator: ", "))
                + "; checkpoint in \(outDir)")
    }
}

struct RewardTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward-train",
        abstract: "Train a Bradley-Terry reward model (the SFT model plus a score head) on preference pairs.")
    @OptionGroup var opts: RunOptions
    @OptionGroup var pref: PreferenceRunOptions

    func run() throws { try runReportingErrors { try pref.run(opts.out, method: .reward, beta: 0) } }
}

struct ChatDPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-dpo", abstract: "Direct Preference Optimization from the SFT model on preference pairs.")
    @OptionGroup var opts: RunOptions
    @OptionGroup var pref: PreferenceRunOptions
    @OptionGroup var lora: LoRAOptions
    @Option(help: "DPO's beta: the strength of the pull towards the reference (larger = stay closer).")
    var beta: Float = PreferenceOptions().beta

    func validate() throws {
        try validateRate(beta, "--beta", 0...100)
        guard beta > 0 else { throw ValidationError("--beta must be positive") }
    }

    func run() throws {
        try runReportingErrors { try pref.run(opts.out, method: .dpo, beta: beta, lora: try lora.start()) }
    }
}
