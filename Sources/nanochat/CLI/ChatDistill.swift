// `nanochat chat-distill`: distillation from a teacher checkpoint into OUT/distill, on-policy by default
// (the student samples, the teacher grades every token) or --off-policy (SFT on the teacher's samples).
// See Train/Distill.swift for the algorithm and Lessons/11-distillation.md for why.

import ArgumentParser
import Foundation

struct ChatDistill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-distill",
        abstract: "Distillation: the student samples, a teacher scores every token (reverse KL as the reward).")
    @OptionGroup var opts: RunOptions
    @OptionGroup var lora: LoRAOptions
    private static let d = DistillOptions()
    @Option(help: "Teacher: a stage (\(Stage.names)) or a checkpoint folder.") var teacher = "sft"
    @Option(help: "Student to start from: a stage or a checkpoint folder.") var student = "rl"
    @Option(help: "Prompt families, comma-separated, each with an optional weight (e.g. spelling:2,choice).")
    var tasks = d.tasks.map(\.kind.rawValue).joined(separator: ",")
    @Option(help: "Optimizer steps (default \(d.steps); on --resume, the saved total).") var steps: Int?
    @Option(help: "Prompts per step.") var prompts = d.prompts
    @Option(help: "Sampled answers per prompt.") var samples = d.samples
    @Option(help: "Most sampled tokens per answer.") var maxTokens = d.maxTokens
    @Option(help: "Sampling temperature.") var temperature = d.temperature
    @Option(help: "Sample from the k most likely tokens (0 = all).") var topK = d.topK
    @Option(help: "Clip each token's weight to ±this (0 = no clipping).") var clip = d.clip
    @Flag(help: "Off-policy: the teacher samples and the student learns its answers (SFT on teacher samples).")
    var offPolicy = false
    @Flag(help: "With --off-policy: train only on the teacher's answers that the task's grader accepts.")
    var onlyCorrect = false
    @Option(help: "Train into this folder instead of OUT/distill (e.g. a smaller student's).") var into: String?
    @Flag(help: "Train on the exact reverse KL over the vocabulary at each sampled position (not the token's).")
    var exactKL = false
    @Option(help: "Multiply every learning rate by this (the SFT learning rates are the base).")
    var lrScale = RLOptions.lrScale
    @Option(help: "Greedy pass@1 on each family's validation slice every N steps (0 = never).")
    var evalEvery = d.evalEvery
    @Option(help: "Problems in each validation slice.") var evalCount = d.evalCount
    @Option(help: "Save a checkpoint every N steps (and at the end).") var saveEvery = d.saveEvery
    @Option(help: "Seed for prompts and sampling.") var seed = d.seed
    @Flag(help: "Continue from OUT/distill's (or --into's) last checkpoint.") var resume = false
    @Flag(help: "Replace a checkpoint already in OUT/distill (without it, one there is refused).") var fresh = false

    /// "spelling:2,choice" as families and weights, or an error that lists the families.
    static func parseTasks(_ text: String) throws -> [(kind: TaskKind, weight: Double)] {
        let known = TaskKind.allCases.map(\.rawValue).joined(separator: ", ")
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty else { throw ValidationError("--tasks is empty: give some of \(known)") }
        return try parts.map { part in
            let kv = part.split(separator: ":", maxSplits: 1).map(String.init)
            guard let kind = TaskKind(rawValue: kv[0]) else {
                throw ValidationError("--tasks: unknown family '\(kv[0])'; the families are \(known)")
            }
            let weight = kv.count == 2 ? Double(kv[1]) : 1
            guard let weight, weight.isFinite, weight > 0, weight <= 1000 else {
                throw ValidationError("--tasks: the weight of \(kind.rawValue) must be a number from 0 to 1000")
            }
            return (kind, weight)
        }
    }

    func validate() throws {
        _ = try Self.parseTasks(tasks)
        try validateCount(steps ?? 1, "--steps", 1...10_000_000)
        try validateCount(prompts, "--prompts", 1...4096)
        try validateCount(samples, "--samples", 1...1024)
        try validateCount(maxTokens, "--max-tokens", 1...100_000)
        try validateCount(evalCount, "--eval-count", 1...100_000)
        try validateCount(topK, "--top-k", 0...(1 << 24))
        try validateRate(temperature, "--temperature", 0...100)
        guard temperature > 0 else { throw ValidationError("--temperature must be positive: the student samples") }
        try validateRate(clip, "--clip", 0...1000)
        try validateRate(lrScale, "--lr-scale", 0...100)
        guard lrScale > 0 else { throw ValidationError("--lr-scale must be positive") }
        guard !(resume && fresh) else { throw ValidationError("give --resume or --fresh, not both") }
        guard !onlyCorrect || offPolicy else {
            throw ValidationError(
                "--only-correct filters the teacher's samples, so it needs --off-policy (on-policy, the student samples)"
            )
        }
        guard !(exactKL && offPolicy) else {
            throw ValidationError(
                "--exact-kl is on-policy (the student's own positions); drop --off-policy or --exact-kl")
        }
        // --clip bounds the sampled log-ratio's per-token weights; the other two objectives have none.
        guard clip == 0 || !(exactKL || offPolicy) else {
            throw ValidationError(
                "--clip bounds the sampled log-ratio's weights, which --\(exactKL ? "exact-kl" : "off-policy") "
                    + "does not use; drop --clip")
        }
    }

    func run() throws {
        try runReportingErrors {
            let tok = try Tokenizer.load(from: opts.tokenizerDir)
            let outDir = into ?? Stage.distill.dir(in: opts.out)
            var o = DistillOptions()
            o.steps = totalSteps(given: steps, default: ChatDistill.d.steps, resume: resume, dir: outDir)
            o.tasks = try Self.parseTasks(tasks)
            o.prompts = prompts
            o.samples = samples
            o.maxTokens = maxTokens
            o.temperature = temperature
            o.topK = topK
            o.clip = clip
            o.offPolicy = offPolicy
            o.onlyCorrect = onlyCorrect
            o.exact = exactKL
            o.hyper = .scaled(by: lrScale)
            o.seed = seed
            o.evalEvery = evalEvery
            o.evalCount = evalCount
            o.saveEvery = saveEvery
            o.resume = resume
            o.fresh = fresh
            o.lora = try lora.start()
            func folder(_ s: String) -> String { Stage(rawValue: s)?.dir(in: opts.out) ?? s }
            let r = try distill(
                tokenizer: tok, words: try TaskWords.load(), student: lora.adapter ?? folder(student),
                teacher: folder(teacher),
                outDir: outDir, options: o)
            if let status = r.stopStatus { throw ExitCode(status) }
            let shown = r.pass1.sorted { $0.key < $1.key }.map { String(format: "%@ %.0f%%", $0.key, 100 * $0.value) }
            print(
                String(format: "chat-distill: done, %d steps, last KL %.3f nats/token", r.step, r.kl)
                    + (shown.isEmpty ? "" : ", validation pass@1 " + shown.joined(separator: ", "))
                    + "; checkpoint in \(outDir)")
        }
    }
}
