// `nanochat chat-rl`: reinforcement learning on the arithmetic task, from the SFT checkpoint into OUT/rl
// (nanochat: scripts/chat_rl.py). See Train/RL.swift for the algorithm.

import ArgumentParser
import Foundation

struct ChatRL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-rl", abstract: "Reinforcement learning on arithmetic: sample answers, reward the right ones."
    )
    @OptionGroup var opts: RunOptions
    @OptionGroup var lora: LoRAOptions
    private static let d = RLOptions()
    @Option(help: "Optimizer steps (default \(d.steps); on --resume, the saved total).") var steps: Int?
    @Option(help: "Prompts per step.") var prompts = d.prompts
    @Option(help: "Sampled answers per prompt (the group whose mean reward is the baseline).") var samples = d.samples
    @Option(help: "Most sampled tokens per answer.") var maxTokens = d.maxTokens
    @Option(help: "Sampling temperature.") var temperature = d.temperature
    @Option(help: "Sample from the k most likely tokens (0 = all).") var topK = d.topK
    @Option(help: "Multiply every learning rate by this (the SFT learning rates are the base).")
    var lrScale = RLOptions.lrScale
    @Option(help: "Greedy pass@1 on the validation slice every N steps (0 = never).") var evalEvery = d.evalEvery
    @Option(help: "Problems in the validation slice.") var evalCount = d.evalCount
    @Option(help: "Save a checkpoint every N steps (and at the end).") var saveEvery = d.saveEvery
    @Option(help: "Seed for prompts and sampling.") var seed = d.seed
    @Option(help: "Checkpoint to start from.") var from: String?
    @Option(help: "KL penalty β to a frozen reference (0 = none): β·KL(policy ‖ reference) joins the loss.")
    var kl: Float = 0
    @Option(help: "The reference for --kl (default: the checkpoint RL starts from, the SFT model).")
    var reference: String?
    @Option(help: "Weight of the accuracy reward (1 when the grader accepts the final answer).")
    var accuracyReward = d.rewards.accuracy
    @Option(
        help:
            "Weight of the format reward (well-formed '#### answer' ending and calculator call; R1-Zero's, from mid)."
    )
    var formatReward = d.rewards.format
    @Option(help: "The task family to train on: arithmetic, spelling, counting or choice.")
    var task = "arithmetic"
    @Option(help: "A curriculum: the first N steps draw only easy arithmetic (the question's numbers, in order).")
    var easyFirst = d.easyFirst
    @Option(help: "Train into this folder instead of OUT/rl (e.g. RL from mid beside RL from SFT).") var into: String?
    @Flag(help: "Continue from OUT/rl's (or --into's) last checkpoint.") var resume = false
    @Flag(help: "Replace a checkpoint already in OUT/rl (without it, one there is refused).") var fresh = false

    func validate() throws {
        try validateCount(steps ?? 1, "--steps", 1...10_000_000)
        try validateCount(prompts, "--prompts", 1...4096)
        // At least 2: the group's mean reward is each answer's baseline.
        try validateCount(samples, "--samples", 2...1024)
        try validateCount(maxTokens, "--max-tokens", 1...100_000)
        try validateCount(evalCount, "--eval-count", 1...100_000)
        try validateCount(easyFirst, "--easy-first", 0...10_000_000)
        guard TaskKind(rawValue: task) != nil else {
            throw ValidationError(
                "--task must be one of " + TaskKind.allCases.map(\.rawValue).joined(separator: ", ") + "; got '\(task)'"
            )
        }
        guard temperature > 0 else {
            throw ValidationError("--temperature must be positive: RL learns from varied samples")
        }
        try validateRate(lrScale, "--lr-scale", 0...100)
        try validateRate(kl, "--kl", 0...1000)
        try validateRate(accuracyReward, "--accuracy-reward", 0...1000)
        try validateRate(formatReward, "--format-reward", 0...1000)
        guard accuracyReward > 0 || formatReward > 0 else {
            throw ValidationError("--accuracy-reward and --format-reward are both 0: nothing would be rewarded")
        }
        guard lrScale > 0 else { throw ValidationError("--lr-scale must be positive") }
        guard !(resume && fresh) else { throw ValidationError("give --resume or --fresh, not both") }
    }

    func run() throws {
        try runReportingErrors {
            let tok = try Tokenizer.load(from: opts.tokenizerDir)
            let outDir = into ?? Stage.rl.dir(in: opts.out)
            var o = RLOptions()
            o.steps = totalSteps(given: steps, default: ChatRL.d.steps, resume: resume, dir: outDir)
            o.prompts = prompts
            o.samples = samples
            o.maxTokens = maxTokens
            o.temperature = temperature
            o.topK = topK
            o.seed = seed
            o.resume = resume
            o.fresh = fresh
            o.lora = try lora.start()
            o.evalEvery = evalEvery
            o.evalCount = evalCount
            o.saveEvery = saveEvery
            o.hyper = .scaled(by: lrScale)
            o.kl = kl
            o.reference = reference
            o.rewards = RewardWeights(accuracy: accuracyReward, format: formatReward)
            o.easyFirst = easyFirst
            o.task = TaskKind(rawValue: task) ?? .arithmetic
            let r = try reinforce(
                tokenizer: tok, words: try TaskWords.load(),
                from: lora.adapter ?? from ?? Stage.rl.startsFrom!.dir(in: opts.out),
                outDir: outDir,
                options: o)
            // stopped by Ctrl-C: the checkpoint is saved; run.sh must not go on
            if let status = r.stopStatus { throw ExitCode(status) }
            print(
                String(format: "chat-rl: done, %d steps, mean reward %.3f", r.step, r.meanReward)
                    + (r.pass1.map { String(format: ", validation pass@1 %.1f%%", 100 * $0) } ?? "")
                    + "; checkpoint in \(outDir)")
        }
    }
}
