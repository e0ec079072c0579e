// `nanochat mid-train` and `nanochat chat-sft`: the post-training stages (nanochat: scripts/mid_train.py,
// scripts/chat_sft.py). Mid-training continues next-token training on corpus text mixed with rendered
// conversations (every token trained), so the model learns the special tokens and the chat format.
// SFT trains on packed conversations with the chat mask: only the assistant's tokens carry weight.

import ArgumentParser
import Foundation

/// Options shared by the post-training stages.
struct StageOptions: ParsableArguments {
    @Option(help: "Optimizer steps (default: \(Stage.mid.defaultSteps) mid-train, \(Stage.sft.defaultSteps) chat-sft).")
    var steps: Int?
    @Option(help: "Rows per forward pass.") var batchSize = 16
    @Option(help: "Multiply every learning rate by this.") var lrScale: Float = 1
    @Option(help: "Examples of each task family in the mixture.") var perTask = 1500
    @Option(help: "Seed for the mixture and the data order.") var seed: UInt64 = 7
    @Option(help: "Evaluate val bpb every N steps (and at the end; 0 = never).") var evalEvery = 50
    @Option(help: "Save a checkpoint every N steps (and at the end).") var saveEvery = 50
    @Flag(help: "Continue this stage from its own last checkpoint (a --steps given here sets a new total).")
    var resume = false
    @Flag(help: "Replace a checkpoint already in this stage's folder (without it, one there is refused).")
    var fresh = false
    @Option(help: "Train into this folder instead of OUT/<stage> (e.g. a LoRA adapter beside the full SFT).")
    var into: String?
    @Flag(help: "Task answers without their steps: only the final '#### answer' (no calculator, no letter-by-letter).")
    var terse = false

    /// The folder this run trains into.
    func outDir(_ stage: Stage, _ opts: RunOptions) -> String { into ?? stage.dir(in: opts.out) }

    func validate() throws {
        try validateRate(lrScale, "--lr-scale", 0...100)
        guard !(resume && fresh) else { throw ValidationError("give --resume or --fresh, not both") }
        guard lrScale > 0 else { throw ValidationError("--lr-scale must be positive") }
        try validateCount(steps ?? 1, "--steps", 1...10_000_000)
        try validateCount(batchSize, "--batch-size", 1...4096)
        try validateCount(perTask, "--per-task", 1...1_000_000)
    }

    func trainOptions(
        stage: Stage, from: String, seqLen: Int, warmStart: Bool, lora: LoRAOptions
    ) throws
        -> PretrainOptions
    {
        var o = PretrainOptions()
        o.stage = stage
        o.lora = try lora.start()
        o.initFrom = lora.adapter ?? from
        o.warmStartOptimizer = warmStart
        o.seqLen = seqLen
        o.batchSize = batchSize
        o.totalBatchTokens = batchSize * seqLen
        o.steps = steps ?? (resume ? nil : stage.defaultSteps)  // resume: the saved total unless given
        o.seed = seed
        o.resume = resume
        o.fresh = fresh
        o.evalEvery = evalEvery
        o.evalTokens = 32768
        o.sampleEvery = 0
        o.saveEvery = saveEvery
        o.hyper = .scaled(by: lrScale)
        return o
    }
}

/// Loads what every chat stage needs: tokenizer, the previous stage's config, shards, task words.
func chatStageInputs(_ opts: RunOptions, from: String) throws -> (Tokenizer, GPTConfig, [UInt16], [UInt16], TaskWords) {
    let tok = try Tokenizer.load(from: opts.tokenizerDir)
    let (config, _) = try Checkpoint.inspect(from)
    let train = try TokenShard.read(opts.out + "/data/train.bin", vocabSize: tok.vocabSize)
    let val = try TokenShard.read(opts.out + "/data/val.bin", vocabSize: tok.vocabSize)
    return (tok, config, train, val, try TaskWords.load())
}

struct MidTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mid-train",
        abstract: "Continue training on corpus text mixed with conversations (chat format, tools).")
    @OptionGroup var opts: RunOptions
    @OptionGroup var stage: StageOptions
    @OptionGroup var lora: LoRAOptions

    func run() throws {
        try runReportingErrors {
            let from = lora.adapter ?? Stage.mid.startsFrom!.dir(in: opts.out)
            let (tok, config, train, val, words) = try chatStageInputs(opts, from: from)
            let mixture = try ChatMixture.standard(
                words: words, perTask: stage.perTask, seed: stage.seed, terse: stage.terse)
            let (stream, chatTokens) = try midTrainingStream(
                tok, mixture: mixture, corpus: train, seqLen: config.sequenceLen,
                seed: stage.seed)
            print(
                "mid-train: mixture \(mixture.summary): \(chatTokens) conversation tokens "
                    + "+ \(stream.count - chatTokens) corpus tokens")
            var loader = try DataLoader(tokens: stream, bos: tok.bosId, T: config.sequenceLen, seed: stage.seed)
            let r = try trainStage(
                tokenizer: tok, source: &loader, val: val, outDir: stage.outDir(.mid, opts),
                options: try stage.trainOptions(
                    stage: .mid, from: from, seqLen: config.sequenceLen, warmStart: false, lora: lora))
            // stopped by Ctrl-C: the checkpoint is saved; run.sh must not go on
            if let status = r.stopStatus { throw ExitCode(status) }
            do {
                print(
                    "mid-train: done, \(r.step) steps" + (r.valBPB.map { String(format: ", val bpb %.4f", $0) } ?? "")
                        + "; checkpoint in \(stage.outDir(.mid, opts))")
            }
        }
    }
}

struct ChatSFT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-sft",
        abstract: "Supervised fine-tuning on conversations; only the assistant's tokens are trained.")
    @OptionGroup var opts: RunOptions
    @OptionGroup var stage: StageOptions
    @OptionGroup var lora: LoRAOptions

    func run() throws {
        try runReportingErrors {
            let from = lora.adapter ?? Stage.sft.startsFrom!.dir(in: opts.out)
            let (tok, config, _, val, words) = try chatStageInputs(opts, from: from)
            let mixture = try ChatMixture.standard(
                words: words, perTask: stage.perTask, seed: stage.seed &+ 1, terse: stage.terse)
            let rendered = try mixture.conversations(seed: stage.seed &+ 1).map {
                try tok.renderConversation($0, maxTokens: Int.max)
            }
            var loader = try SFTLoader(conversations: rendered, T: config.sequenceLen, pad: tok.bosId, seed: stage.seed)
            print(
                "chat-sft: mixture \(mixture.summary): \(rendered.count) conversations, \(loader.cropped) cropped "
                    + "to \(config.sequenceLen + 1) tokens"
            )
            let r = try trainStage(
                tokenizer: tok, source: &loader, val: val, outDir: stage.outDir(.sft, opts),
                options: try stage.trainOptions(
                    stage: .sft, from: from, seqLen: config.sequenceLen, warmStart: true, lora: lora))
            // stopped by Ctrl-C: the checkpoint is saved; run.sh must not go on
            if let status = r.stopStatus { throw ExitCode(status) }
            do { print("chat-sft: done, \(r.step) steps; checkpoint in \(stage.outDir(.sft, opts))") }
        }
    }
}
