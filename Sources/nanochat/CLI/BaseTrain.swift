// `nanochat base-train`: pretrains the GPT on the corpus (nanochat: scripts/base_train.py).

import ArgumentParser
import Foundation

struct BaseTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "base-train",
        abstract: "Pretrain the GPT on the corpus: live progress, val bpb, samples, checkpoints, --resume.")

    @OptionGroup var opts: RunOptions
    private static let d = PretrainOptions(), lr = OptimizerHyper()
    @Option(help: "Model depth: C = 64·depth, one attention head per 64 channels.") var depth = d.depth
    @Option(help: "Sequence length T (context).") var seqLen = d.seqLen
    @Option(help: "Rows per forward pass.") var batchSize = d.batchSize
    @Option(
        help: "Tokens per optimizer step (gradient accumulation when above batch-size × seq-len; default one pass).")
    var totalBatch: Int?
    @Option(help: "Number of optimizer steps (default \(Stage.base.defaultSteps)).") var steps: Int?
    @Option(help: "Train for about this many minutes instead of --steps.") var minutes: Double?
    @Option(help: "Train on ratio × params tokens instead of --steps (nanochat uses 20, Chinchilla).") var ratio:
        Double?
    @Option(help: "AdamW learning rate of the embedding (scaled by (C/768)^-0.5).") var embeddingLr = lr.embeddingLR
    @Option(help: "AdamW learning rate of lm_head (scaled by (C/768)^-0.5).") var unembeddingLr = lr.unembeddingLR
    @Option(help: "Learning rate of the block matrices (default: 0.02 for Muon, 0.003 for --matrix-optimizer adamw).")
    var matrixLr: Float?
    @Option(help: "AdamW weight decay.") var weightDecay = lr.weightDecay
    @Option(help: "Linear warmup steps.") var warmup = d.warmupSteps
    @Option(help: "Fraction of the steps spent decaying the learning rate at the end.") var warmdownRatio = d
        .warmdownRatio
    @Option(help: "Learning rate at the end, as a fraction of the peak.") var finalLrFrac = d.finalLRFraction
    @Option(help: "Evaluate val bpb every N steps (and at the end).") var evalEvery = d.evalEvery
    @Option(help: "Validation tokens per evaluation.") var evalTokens = d.evalTokens
    @Option(help: "Print samples every N steps (and at the end).") var sampleEvery = d.sampleEvery
    @Option(help: "Save a checkpoint every N steps (and at the end).") var saveEvery = d.saveEvery
    @Option(help: "Seed for the weights and the data order.") var seed = d.seed
    @Flag(help: "Continue from the checkpoint in OUT/base (a --steps given here sets a new total).") var resume = false
    @Flag(help: "Replace a checkpoint already in OUT/base (without it, one there is refused).") var fresh = false
    // The ablation ladder (Lessons/04-pretraining.md): each switch turns off one piece of nanochat's model.
    @Flag(help: "Ablation: no rotary position embeddings (order only through the causal mask).") var noRotary = false
    @Flag(help: "Ablation: no rmsnorm of the queries and keys.") var noQkNorm = false
    @Option(help: "Ablation: the MLP's nonlinearity: relu2 (nanochat), relu or gelu.") var activation = Activation
        .reluSquared
    @Option(help: "Ablation: the logit soft cap, logits = cap·tanh(z/cap); 0 = uncapped.") var softcap = Architecture
        .defaultSoftcap
    @Option(help: "Ablation: the block matrices' optimizer: muon (nanochat) or adamw.") var matrixOptimizer =
        OptimizerKind.muon
    @Option(name: .long, parsing: .upToNextOption, help: "Training text (files or folders).") var train: [String] = [
        "data/shakespeare/train"
    ]
    @Option(name: .long, parsing: .upToNextOption, help: "Validation text (files or folders).") var val: [String] = [
        "data/shakespeare/val"
    ]

    func validate() throws {
        guard [steps != nil, minutes != nil, ratio != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("give at most one of --steps, --minutes, --ratio")
        }
        guard depth >= 1, seqLen >= 2, batchSize >= 1 else {
            throw ValidationError("--depth, --seq-len (>= 2) and --batch-size must be positive")
        }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let minutes, !(minutes > 0 && minutes <= 60 * 24 * 365) {
            throw ValidationError("--minutes must be a positive number of minutes (at most a year)")
        }
        if let ratio, !(ratio > 0 && ratio <= 1e6) { throw ValidationError("--ratio must be a number from 0 to 1e6") }
        guard !(resume && fresh) else { throw ValidationError("give --resume or --fresh, not both") }
        try validateRate(embeddingLr, "--embedding-lr", 0...10)
        try validateRate(unembeddingLr, "--unembedding-lr", 0...10)
        if let matrixLr { try validateRate(matrixLr, "--matrix-lr", 0...10) }
        guard softcap.isFinite, softcap == 0 || (1...1000).contains(softcap) else {
            throw ValidationError("--softcap must be 0 (no cap) or from 1 to 1000; got \(softcap)")
        }
        try validateRate(weightDecay, "--weight-decay", 0...10)
        guard warmdownRatio.isFinite, (0...1).contains(warmdownRatio) else {
            throw ValidationError("--warmdown-ratio must be a fraction from 0 to 1")
        }
        guard finalLrFrac.isFinite, (0...1).contains(finalLrFrac) else {
            throw ValidationError("--final-lr-frac must be a fraction from 0 to 1")
        }
        guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more steps") }
        guard depth <= 64, seqLen <= 16384, batchSize <= 4096 else {
            throw ValidationError(
                "--depth (at most 64), --seq-len (at most 16384) or --batch-size (at most 4096) is too large")
        }
    }

    func run() throws {
        try runReportingErrors {
            let tok = try Tokenizer.load(from: opts.tokenizerDir)
            let (trainPath, valPath) = try prepareShards(tok, train: train, val: val, dataDir: opts.out + "/data") {
                print($0)
            }
            let trainTokens = try TokenShard.read(trainPath, vocabSize: tok.vocabSize)
            let valTokens = try TokenShard.read(valPath, vocabSize: tok.vocabSize)
            var o = PretrainOptions()
            o.depth = depth
            o.seqLen = seqLen
            o.batchSize = batchSize
            o.totalBatchTokens = totalBatch ?? batchSize * seqLen
            o.steps = steps
            o.minutes = minutes
            o.ratio = ratio
            if steps == nil && minutes == nil && ratio == nil && !resume { o.steps = Stage.base.defaultSteps }
            let defaultMatrixLR = matrixOptimizer == .muon ? OptimizerHyper().matrixLR : OptimizerHyper.adamwMatrixLR
            o.hyper = OptimizerHyper(
                embeddingLR: embeddingLr, unembeddingLR: unembeddingLr, matrixLR: matrixLr ?? defaultMatrixLR,
                weightDecay: weightDecay)
            o.hyper.matrixOptimizer = matrixOptimizer
            o.arch = Architecture(rotary: !noRotary, qkNorm: !noQkNorm, activation: activation, softcap: softcap)
            o.warmupSteps = warmup
            o.warmdownRatio = warmdownRatio
            o.finalLRFraction = finalLrFrac
            o.evalEvery = evalEvery
            o.evalTokens = evalTokens
            o.sampleEvery = sampleEvery
            o.saveEvery = saveEvery
            o.seed = seed
            o.resume = resume
            o.fresh = fresh
            let r = try pretrain(
                tokenizer: tok, train: trainTokens, val: valTokens, outDir: Stage.base.dir(in: opts.out), options: o)
            // stopped by Ctrl-C: the checkpoint is saved; run.sh must not go on
            if let status = r.stopStatus { throw ExitCode(status) }
            print(
                "base-train: done, \(r.step) steps" + (r.valBPB.map { String(format: ", val bpb %.4f", $0) } ?? "")
                    + String(format: ", peak memory %.0f MB", peakMemoryMB()) + "; checkpoint in \(opts.out)/base")
        }
    }
}

extension Activation: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
